/**
 * How the spawn parent tells its child entry how many descriptors follow the
 * bootstrap message (see `LaunchRequest.fds`). A file of its own: the child
 * entry reads it without loading the parent's side (`launch.ts`) and all of
 * core with it.
 */
export const INHERITED_FDS_ENV = "MULTIPROC_INHERITED_FDS";
