"""The report stage: durable on-disk spool of `Report`s and the sender to the fleet service."""

from agent.report.build import heartbeat_report, result_report
from agent.report.deliver import DeliveryOutcome, deliver, read_token, report_cycle
from agent.report.model import RESULTS, ObjectFailure, Report, utc_now
from agent.report.sender import FlushResult, Sender
from agent.report.spool import Spool, SpooledReport, SpoolStats

__all__ = ["RESULTS", "DeliveryOutcome", "FlushResult", "ObjectFailure", "Report", "Sender",
           "Spool", "SpoolStats", "SpooledReport", "deliver", "heartbeat_report", "read_token",
           "report_cycle", "result_report", "utc_now"]
