-- Tables created before spanhouse deduplicated its retries get the deduplication window too.
-- (Replicated engines deduplicate by replicated_deduplication_window and skip this.)
ALTER TABLE `$database`.`$table` $on_cluster MODIFY SETTING non_replicated_deduplication_window = $window
