import { app } from "./app";

export { HostQueue } from "./host/host-queue";
export { SshRelay } from "./ssh/relay-container";
export default app;
