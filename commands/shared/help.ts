/**
 * The footer of a command group's help: typical uses, and the exit codes its commands share
 * (each verb's own help says what each code means for it).
 */
export function groupHelp(examples: string[]): string {
  return `
Examples:
${examples.map((e) => `  ${e}`).join('\n')}

Exit status: 0 ok, 1 failed, 2 usage error, 3 configuration error, 4 verification found problems,
75 another run holds the job's lock, 130 interrupted; \`aj help <group> <command>\` says what each means there.
`;
}
