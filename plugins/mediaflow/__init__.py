"""mediaflow: Airflow 3 hooks, operators, triggers and pure transfer logic for media operations on AWS."""

__version__ = "0.1.0"
