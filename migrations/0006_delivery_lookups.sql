DROP INDEX `deliveries_repo_ref_idx`;--> statement-breakpoint
CREATE INDEX `deliveries_repo_ref_time_idx` ON `deliveries` (lower("repo"),`ref`,`created_at`);--> statement-breakpoint
CREATE INDEX `deliveries_before_idx` ON `deliveries` (`before`);--> statement-breakpoint
CREATE INDEX `deliveries_sha_idx` ON `deliveries` (`sha`);