"""Pure logic with no Airflow import: planning, part sizing, engines, key templating."""
