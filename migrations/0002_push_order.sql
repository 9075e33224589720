ALTER TABLE `deliveries` ADD `before` text;--> statement-breakpoint
ALTER TABLE `deliveries` ADD `pushed_at` text;--> statement-breakpoint
CREATE INDEX `deliveries_repo_ref_idx` ON `deliveries` (`repo`,`ref`,`pushed_at`);