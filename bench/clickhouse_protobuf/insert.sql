-- The spans table's rows from a queued request batch (see transform.py).
INSERT INTO `{database}`.`{table}` ({columns})
SELECT spanhouse_time(sp.start_time_unix_nano), spanhouse_hex_id(sp.trace_id), spanhouse_hex_id(sp.span_id),
  spanhouse_hex_id(sp.parent_span_id), sp.trace_state, sp.name,
  if(sp.kind >= 0 AND sp.kind < 6, ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'][sp.kind + 1], ''),
  resource['service.name'], mapFilter((k, v) -> k != 'spanhouse.tenant', resource), ss.scope.name, ss.scope.version,
  spanhouse_map(sp.attributes),
  if(sp.end_time_unix_nano > sp.start_time_unix_nano, sp.end_time_unix_nano - sp.start_time_unix_nano, 0),
  if(sp.status.code >= 0 AND sp.status.code < 3, ['Unset', 'Ok', 'Error'][sp.status.code + 1], ''), sp.status.message,
  arrayMap(e -> spanhouse_time(e.time_unix_nano), sp.events), arrayMap(e -> e.name, sp.events),
  arrayMap(e -> spanhouse_map(e.attributes), sp.events),
  arrayMap(l -> spanhouse_hex_id(l.trace_id), sp.links), arrayMap(l -> spanhouse_hex_id(l.span_id), sp.links),
  arrayMap(l -> l.trace_state, sp.links), arrayMap(l -> spanhouse_map(l.attributes), sp.links),
  if(mapContains(resource, 'spanhouse.tenant'), resource['spanhouse.tenant'], 'default')
FROM (SELECT rs, ss, sp, spanhouse_map(rs.resource.attributes) AS resource
FROM file('{path}', 'ProtobufSingle', '{structure}')
ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS sp)
SETTINGS format_schema_source = 'string', format_schema = '{schema}',
  format_schema_message_name = 'ExportTraceServiceRequest', input_format_protobuf_oneof_presence = 1
