import { MemoryBroker } from "../../../engine/broker/memory/memory-broker.ts";
import { describeBrokerContract } from "../../contract/broker-contract.ts";

describeBrokerContract(
  "in-process",
  (onDeadLetter, maxDeliveries) => new MemoryBroker({ maxDeliveries, onDeadLetter }),
);
