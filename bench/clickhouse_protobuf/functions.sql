-- SQL functions for transform.py: pdata's AsString, the contrib exporter's id and time rules.
CREATE OR REPLACE FUNCTION spanhouse_hex_id AS (id) -> if(replaceAll(id, '\0', '') = '', '', lower(hex(id)));
CREATE OR REPLACE FUNCTION spanhouse_safe_double AS (d) -> (d = 0) OR (abs(d) >= 0.0001 AND abs(d) < 1e15);
CREATE OR REPLACE FUNCTION spanhouse_safe_json_string AS (s) -> NOT match(s, '[\x00-\x1f"\\\\<>&]|\xe2\x80[\xa8\xa9]');
CREATE OR REPLACE FUNCTION spanhouse_leaf_ok AS (l) -> multiIf(l.value = 'string_value', spanhouse_safe_json_string(l.string_value), l.value = 'double_value', spanhouse_safe_double(l.double_value), l.value IN ('int_value', 'bool_value', 'none'), 1, 0);
CREATE OR REPLACE FUNCTION spanhouse_value_ok AS (v) -> multiIf(v.value = 'kvlist_value', 0, v.value = 'double_value', spanhouse_safe_double(v.double_value), v.value = 'array_value', arrayAll(l -> spanhouse_leaf_ok(l), v.array_value.values), 1);
CREATE OR REPLACE FUNCTION spanhouse_kvs_ok AS (kvs) -> arrayAll(kv -> spanhouse_value_ok(kv.value), kvs) AND length(arrayDistinct(arrayMap(kv -> kv.key, kvs))) = length(kvs);
CREATE OR REPLACE FUNCTION spanhouse_leaf_json AS (l) -> multiIf(l.value = 'string_value', concat('"', l.string_value, '"'), l.value = 'int_value', toString(l.int_value), l.value = 'bool_value', if(l.bool_value, 'true', 'false'), l.value = 'double_value', toString(l.double_value), 'null');
CREATE OR REPLACE FUNCTION spanhouse_value AS (v) -> multiIf(v.value = 'string_value', v.string_value, v.value = 'int_value', toString(v.int_value), v.value = 'bool_value', if(v.bool_value, 'true', 'false'), v.value = 'double_value', toString(v.double_value), v.value = 'bytes_value', base64Encode(v.bytes_value), v.value = 'array_value', concat('[', arrayStringConcat(arrayMap(l -> spanhouse_leaf_json(l), v.array_value.values), ','), ']'), '');
CREATE OR REPLACE FUNCTION spanhouse_map AS (kvs) -> mapFromArrays(arrayMap(kv -> kv.key, kvs), arrayMap(kv -> spanhouse_value(kv.value), kvs));
CREATE OR REPLACE FUNCTION spanhouse_time AS (t) -> fromUnixTimestamp64Nano(toInt64(least(t, 9223372036854775807)), 'UTC');
