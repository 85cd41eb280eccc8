/** Notes of one kind listed for `info`: one per header or record is unreadable past a few (an image can have a million). */
export const LISTED_NOTES = 10;

/** Notes of one kind: the first LISTED_NOTES (built only for those), then one line counting the rest. */
export class ListedNotes {
  private readonly listed: string[] = [];
  private count = 0;

  /** `what`: the kind, plural, for the closing line ("PT_LOADs with p_filesz < p_memsz"). */
  constructor(private readonly what: string) {}

  add(line: () => string): void {
    if (this.count++ < LISTED_NOTES) this.listed.push(line());
  }

  lines(): string[] {
    const more = this.count - this.listed.length;
    return more > 0 ? [...this.listed, `... and ${more} more ${this.what} like these (${this.count} in all)`] : this.listed.slice();
  }
}
