"""Thin Prefect flows over the engine in `monitors`."""

import logging


class _Terminated(logging.Filter):
    """Drops asyncio's traceback of a flow run ended by SIGTERM (`newsmon serve` stopping
    cancels the runs still going): Prefect's engine reports the termination itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "TerminationSignal"


logging.getLogger("asyncio").addFilter(_Terminated())
