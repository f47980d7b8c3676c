import { MemoryBroker } from "../../../engine/broker/memory/memory-broker.ts";
import { describeBrokerContract } from "../../contract/broker-contract.ts";

/** One in-process broker per deployment: a deployment of the embedded default is one process. */
const deployments = new Map<string, MemoryBroker>();

describeBrokerContract("in-process", (onDeadLetter, maxDeliveries, deployment) => {
  let broker = deployments.get(deployment);
  if (broker === undefined) {
    broker = new MemoryBroker({ maxDeliveries, onDeadLetter });
    deployments.set(deployment, broker);
  }
  return broker;
});
