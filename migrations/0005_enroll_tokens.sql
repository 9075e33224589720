CREATE TABLE `enroll_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`host` text NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL,
	`single_use` integer NOT NULL,
	`used_at` text
);
