/**
 * The one place where an argv array becomes a shell command line.
 *
 * sshd hands the command string to the target user's login shell (`$SHELL -c
 * STRING`), so every value must reach the program as exactly one argument,
 * byte for byte. Assumption: that shell is POSIX (sh, dash, bash, zsh, ksh);
 * a csh or fish login shell is not supported.
 *
 * Inside single quotes a POSIX shell interprets nothing — no `$`, backtick,
 * backslash, `;` or newline — so each argument is wrapped in single quotes and
 * an embedded `'` is written as `'\''` (close, escaped quote, reopen). Every
 * argument is quoted, even plain words: uniform output is easier to trust
 * than a list of "safe" characters. A quoted builtin (`'command'`) still runs
 * as the builtin; only reserved words lose their meaning when quoted.
 */
export function shellQuote(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError("shellQuote: empty argv");
  return argv.map(quoteArg).join(" ");
}

function quoteArg(arg: string): string {
  if (typeof arg !== "string") throw new TypeError("shellQuote: every argument must be a string");
  // A NUL cannot be passed in an argv entry at all: refuse rather than cut.
  if (arg.includes("\0")) throw new TypeError("shellQuote: an argument contains a NUL byte");
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
