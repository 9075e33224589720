import { app } from "./app";

export { HostQueue } from "./host/host-queue";
export default app;
