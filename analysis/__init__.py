"""Read a sweep's results and report on them; imports neither Keras nor Ray."""

from analysis.report import ReportOptions, build_report
from analysis.results import Sweep, Trial, load_sweep

__all__ = ["ReportOptions", "Sweep", "Trial", "build_report", "load_sweep"]
