/** An error meant for the person at the terminal: printed as one line, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** The HTTP status behind it, when the controller answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}
