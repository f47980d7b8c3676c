import { MongoBulkWriteError, MongoServerError } from "mongodb";

/** The server errors the store expects, and what it does about them. */

const DUPLICATE_KEY = 11000;
const NOT_IMPLEMENTED = 238;

/** A unique index (or _id) refused an insert: what exists stays, and the caller reads it. */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/** An unordered insertMany refused some documents, all of them because they exist already. */
export function isDuplicatesOnly(error: unknown): boolean {
  if (!(error instanceof MongoBulkWriteError)) return false;
  const refused = [error.writeErrors].flat();
  return refused.length > 0 && refused.every((writeError) => writeError.code === DUPLICATE_KEY);
}

/** Error code 238 (NotImplemented): how FerretDB refuses a feature MongoDB has and it lacks. */
export function isNotImplemented(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === NOT_IMPLEMENTED;
}
