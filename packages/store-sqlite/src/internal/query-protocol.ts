/** Messages between `runQuery` and its query child process. */

/** Parent → child. */
export type QueryParentMessage =
  | { readonly type: 'query'; readonly path: string; readonly sql: string; readonly chunkRows: number }
  | { readonly type: 'ack' };

/** Child → parent. */
export type QueryChildMessage =
  | { readonly type: 'columns'; readonly columns: readonly string[] }
  | { readonly type: 'rows'; readonly rows: readonly (readonly unknown[])[] }
  | { readonly type: 'done'; readonly rows: number }
  | { readonly type: 'error'; readonly code: 'ERR_QUERY_REFUSED' | 'ERR_QUERY_FAILED'; readonly message: string };
