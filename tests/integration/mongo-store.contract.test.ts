import { randomUUID } from "node:crypto";
import { MongoClient } from "mongodb";
import { afterAll } from "vitest";
import { MongoStore } from "../../engine/store/mongo/mongo-store.ts";
import { describeStoreContract } from "../contract/store-contract.ts";
import { MONGO_URL, mongoUrlFor } from "./services.ts";

/**
 * The Store contract on the MongoDB store, against a real MongoDB-wire server
 * (FerretDB here; a MongoDB replica set where PFLOW_TEST_MONGO_URL points at one).
 * Each test gets a database of its own, dropped when the file is done.
 */
const databases: string[] = [];

afterAll(async () => {
  const client = new MongoClient(MONGO_URL, { serverSelectionTimeoutMS: 5_000 });
  try {
    for (const name of databases.splice(0)) await client.db(name).dropDatabase();
  } finally {
    await client.close();
  }
});

describeStoreContract("MongoDB (FerretDB)", () => {
  const name = `pflow_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  databases.push(name);
  return new MongoStore(mongoUrlFor(name));
});
