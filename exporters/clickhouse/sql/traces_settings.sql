-- spanhouse's table settings (see schema.py: spanhouse_table_settings), applied to a table
-- created before them or by another tool too.
ALTER TABLE `$database`.`$table` $on_cluster MODIFY SETTING $settings
