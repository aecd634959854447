"""Which ClickHouse failures mean bad data (never retried) and which mean "try again later"."""

from __future__ import annotations

from typing import Final

from clickhouse_connect.driver.exceptions import DataError, OperationalError
from clickhouse_connect.driver.exceptions import Error as ClickHouseClientError

from spanhouse.collector.core.errors import PermanentError, PipelineError, RetryableError

# Server error codes (src/Common/ErrorCodes.cpp) that say the rows themselves are wrong:
# sending the same rows again fails the same way.
BAD_DATA_ERROR_CODES: Final = frozenset({
    6,    # CANNOT_PARSE_TEXT
    26,   # CANNOT_PARSE_QUOTED_STRING
    27,   # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,   # CANNOT_PARSE_DATE
    41,   # CANNOT_PARSE_DATETIME
    53,   # TYPE_MISMATCH
    69,   # ARGUMENT_OUT_OF_BOUND
    70,   # CANNOT_CONVERT_TYPE
    72,   # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    128,  # TOO_LARGE_ARRAY_SIZE
    131,  # TOO_LARGE_STRING_SIZE
    190,  # SIZES_OF_ARRAYS_DONT_MATCH (Nested columns of unequal length)
    321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    469,  # VIOLATED_CONSTRAINT (a CHECK constraint added to the table refuses the rows)
})

# Codes the server itself marks retryable (X-ClickHouse-Exception-Retryable) plus memory
# pressure and cancellation. Listed to document intent: any code not in BAD_DATA_ERROR_CODES
# is retried, because a schema or permission problem is not the sender's fault and dropping
# its spans would be silent data loss.
RETRYABLE_ERROR_CODES: Final = frozenset({
    3,     # UNEXPECTED_END_OF_FILE
    159,   # TIMEOUT_EXCEEDED
    164,   # READONLY (e.g. a replica gone read-only)
    202,   # TOO_MANY_SIMULTANEOUS_QUERIES
    203,   # NO_FREE_CONNECTION
    209,   # SOCKET_TIMEOUT
    210,   # NETWORK_ERROR
    236,   # ABORTED
    241,   # MEMORY_LIMIT_EXCEEDED
    242,   # TABLE_IS_READ_ONLY
    252,   # TOO_MANY_PARTS (inserts faster than merges: back off)
    285,   # TOO_FEW_LIVE_REPLICAS
    319,   # UNKNOWN_STATUS_OF_INSERT
    394,   # QUERY_WAS_CANCELLED
    425,   # SYSTEM_ERROR
    999,   # KEEPER_EXCEPTION
    1002,  # UNKNOWN_EXCEPTION
})


def classify_insert_error(error: BaseException) -> PipelineError:
    """The pipeline error for a failed insert (the caller chains `error` as its cause)."""
    if isinstance(error, PipelineError):
        return error
    if isinstance(error, ClickHouseClientError):
        code = error.code
        if code in BAD_DATA_ERROR_CODES:
            return PermanentError(f"ClickHouse refused the spans (code {code}): {_first_line(error)}")
        if code is None and isinstance(error, DataError):
            # clickhouse-connect could not serialize a value into its column type: the same
            # rows fail the same way every time, before anything reaches the server.
            return PermanentError(f"spans cannot be encoded for ClickHouse: {_first_line(error)}")
        label = f"code {code}" if code is not None else type(error).__name__
        return RetryableError(f"ClickHouse insert failed ({label}): {_first_line(error)}")
    if isinstance(error, OSError):
        return RetryableError(f"ClickHouse unreachable: {error}")
    # Anything else was raised while encoding the columns (struct.error, TypeError, ...):
    # deterministic for these spans, so retrying cannot help.
    return PermanentError(f"spans cannot be encoded for ClickHouse: {type(error).__name__}: {error}")


def is_connection_failure(error: BaseException) -> bool:
    """True when connecting failed because the server is not reachable (yet), as opposed to
    a refusal such as bad credentials or invalid DDL that waiting will not fix."""
    if isinstance(error, OSError):
        return True
    if isinstance(error, OperationalError) and error.code is None:
        return True  # clickhouse-connect's wrapper of connection refused, DNS, TLS, timeouts
    if isinstance(error, ClickHouseClientError):
        return error.code in RETRYABLE_ERROR_CODES
    return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
