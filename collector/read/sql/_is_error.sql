-- Very old contrib exporter versions wrote STATUS_CODE_ERROR; long-lived tables hold both.
StatusCode IN ('Error', 'STATUS_CODE_ERROR')
