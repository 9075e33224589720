CREATE TABLE `agents` (
	`id` text PRIMARY KEY NOT NULL,
	`hostname` text NOT NULL,
	`version` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `agents_hostname_idx` ON `agents` (`hostname`);--> statement-breakpoint
CREATE TABLE `config_versions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`yaml` text NOT NULL,
	`sha256` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`event` text NOT NULL,
	`repo` text,
	`ref` text,
	`sha` text,
	`outcome` text NOT NULL,
	`ignored` text,
	`jobs` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`app` text NOT NULL,
	`repo` text NOT NULL,
	`ref` text NOT NULL,
	`sha` text NOT NULL,
	`host` text NOT NULL,
	`mode` text NOT NULL,
	`status` text NOT NULL,
	`attempt` integer NOT NULL,
	`agent_id` text,
	`trigger` text NOT NULL,
	`delivery_id` text,
	`created_at` text NOT NULL,
	`started_at` text,
	`finished_at` text,
	`exit_code` integer,
	`error` text,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_created_idx` ON `jobs` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_host_idx` ON `jobs` (`host`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_app_idx` ON `jobs` (`app`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_repo_ref_idx` ON `jobs` (`repo`,`ref`,`created_at`);