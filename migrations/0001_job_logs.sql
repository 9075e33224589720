CREATE TABLE `job_logs` (
	`job_id` text NOT NULL,
	`pos` integer NOT NULL,
	`attempt` integer NOT NULL,
	`seq` integer NOT NULL,
	`ts` text NOT NULL,
	`stream` text NOT NULL,
	`text` text NOT NULL,
	PRIMARY KEY(`job_id`, `pos`)
);
