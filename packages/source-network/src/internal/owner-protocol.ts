/**
 * Messages between the network source and its owner worker thread: a lookup of the inodes of one
 * dump, answered with parallel arrays (cheap to clone) of owners and misses. Types only.
 */

/** Main thread → worker. */
export type OwnerRequest =
  | { readonly type: 'lookup'; readonly id: number; readonly inodes: number[] }
  | { readonly type: 'stop' };

/** Worker → main thread. */
export type OwnerReply =
  | {
      readonly type: 'lookup';
      readonly id: number;
      readonly ownerInodes: number[];
      readonly ownerPids: number[];
      readonly ownerNames: string[];
      readonly missingInodes: number[];
      /** 1 = not_permitted, 0 = not_found, per missing inode. */
      readonly missingDenied: number[];
      readonly pidsListed: number;
      readonly linksRead: number;
      readonly walked: boolean;
      readonly durationMs: number;
    }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/** Data the worker starts with. */
export interface OwnerWorkerData {
  readonly procRoot?: string;
}
