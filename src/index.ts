import { app } from "./app";

export { AppState } from "./app/app-state";
export { HostQueue } from "./host/host-queue";
export { SshRelay } from "./ssh/relay-container";
export default app;
