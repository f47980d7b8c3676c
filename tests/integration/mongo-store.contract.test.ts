import { randomUUID } from "node:crypto";
import { MongoClient } from "mongodb";
import { afterAll } from "vitest";
import { MongoStore } from "../../engine/store/mongo/mongo-store.ts";
import { describeStoreContract } from "../contract/store-contract.ts";
import { MONGO_SERVERS, mongoUrlFor } from "./services.ts";

/**
 * The Store contract on the MongoDB store, against both real MongoDB-wire
 * servers: FerretDB (the store's locked mode) and mongo-java-server (its atomic
 * mode, the one production runs on MongoDB). Each test gets a database of its
 * own, dropped when the file is done.
 */
const databases: Array<{ server: string; name: string }> = [];

afterAll(async () => {
  for (const server of MONGO_SERVERS) {
    const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 5_000 });
    try {
      for (const { name } of databases.filter((database) => database.server === server.url))
        await client.db(name).dropDatabase();
    } finally {
      await client.close();
    }
  }
});

for (const server of MONGO_SERVERS) {
  describeStoreContract(`MongoDB (${server.name}, ${server.mode} mode)`, () => {
    const name = `pflow_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
    databases.push({ server: server.url, name });
    return new MongoStore(mongoUrlFor(name, server.url));
  });
}
