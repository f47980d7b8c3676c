/**
 * The text of an INSERT of several rows at once, for 1 to `maxRows` rows, each
 * text made once and kept: the connection prepares each text once, so a
 * multi-row insert costs at most `maxRows` prepared statements. One statement's
 * step costs more than the row it inserts, hence rows in groups.
 */
export function multiRowInsert(head: string, row: string, maxRows: number): (rows: number) => string {
  const texts: string[] = [];
  return (rows) => {
    if (rows < 1 || rows > maxRows) throw new RangeError(`${rows} rows in one insert; 1 to ${maxRows}`);
    let text = texts[rows];
    if (text === undefined) {
      text = `${head} VALUES ${Array(rows).fill(row).join(", ")}`;
      texts[rows] = text;
    }
    return text;
  };
}
