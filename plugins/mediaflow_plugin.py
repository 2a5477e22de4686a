"""Entry point for Airflow's plugin loader, which imports top-level files of the plugins folder.

The package itself is hidden from the loader by `.airflowignore` (the loader would otherwise
import every module under a bare file name); it is imported normally from here.
"""

from mediaflow.plugin import MediaflowPlugin

__all__ = ["MediaflowPlugin"]
