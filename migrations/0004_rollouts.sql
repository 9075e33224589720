CREATE TABLE `rollouts` (
	`id` text PRIMARY KEY NOT NULL,
	`app` text NOT NULL,
	`ref` text NOT NULL,
	`sha` text NOT NULL,
	`status` text NOT NULL,
	`trigger` text NOT NULL,
	`created_at` text NOT NULL,
	`finished_at` text,
	`snapshot` text NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `rollouts_created_idx` ON `rollouts` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `rollouts_app_idx` ON `rollouts` (`app`,`created_at`);--> statement-breakpoint
CREATE INDEX `rollouts_status_idx` ON `rollouts` (`status`,`created_at`);--> statement-breakpoint
ALTER TABLE `jobs` ADD `rollout_id` text;--> statement-breakpoint
CREATE INDEX `jobs_rollout_idx` ON `jobs` (`rollout_id`);