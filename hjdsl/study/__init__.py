"""Studies: sweeps of independent fits (scaling laws, generalisation rates) run as dask tasks."""

from hjdsl.study.spec import Config as Config
from hjdsl.study.spec import Study as Study

__all__ = ["Config", "Study"]
