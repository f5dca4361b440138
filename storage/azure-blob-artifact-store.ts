/**
 * ArtifactStore on an Azure Blob container (`deployments`): one block blob per function
 * version, named `<functionId>/<version>.zip`, so every version of a function shares the
 * prefix `<functionId>/`. Uploads are create-only (`If-None-Match: *`, checked atomically by
 * the service), so of two writers of one version exactly one succeeds and a blob is never
 * replaced under a record that points at it.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { RfError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';
import { bounded, statusOf, type AzureCallContext } from './azure-errors.ts';
import type { ArtifactStore, StoredArtifact } from './types.ts';

/** The blob name of one version's code. */
export function artifactBlobName(functionId: string, version: number): string {
  return `${functionId}/${version}.zip`;
}

const DELETE_BATCH = 8;
/**
 * Throughput assumed for a transfer's deadline past the first byte: a stalled or unreachable
 * service fails within the operation timeout, a large zip still gets the time it needs.
 */
const ASSUMED_BYTES_PER_SECOND = 4 * 1024 * 1024;

export interface AzureBlobArtifactStoreOptions extends AzureCallContext {
  /** A client on the `deployments` container (created beforehand, see openStores). */
  container: ContainerClient;
  /**
   * Deadline of an upload or a download, which move up to tens of MB; default 30000 ms.
   * A refused connection still fails at once.
   */
  transferTimeoutMs?: number;
}

export class AzureBlobArtifactStore implements ArtifactStore {
  readonly #container: ContainerClient;
  readonly #ctx: AzureCallContext;
  readonly #transferTimeoutMs: number;

  constructor(options: AzureBlobArtifactStoreOptions) {
    this.#container = options.container;
    this.#ctx = { operationTimeoutMs: options.operationTimeoutMs, secrets: options.secrets };
    this.#transferTimeoutMs = Math.max(options.transferTimeoutMs ?? 30_000, options.operationTimeoutMs);
  }

  /** The deadline of moving `bytes`: the operation timeout plus their time at the assumed rate. */
  #transferDeadlineMs(bytes: number): number {
    return Math.min(this.#transferTimeoutMs, this.#ctx.operationTimeoutMs + Math.ceil((bytes / ASSUMED_BYTES_PER_SECOND) * 1000));
  }

  async put(functionId: string, version: number, zip: Buffer): Promise<void> {
    const blob = this.#container.getBlockBlobClient(artifactBlobName(functionId, version));
    await bounded(
      this.#ctx,
      'artifacts.put',
      async (abortSignal) => {
        await blob.uploadData(zip, {
          abortSignal,
          blobHTTPHeaders: { blobContentType: 'application/zip' },
          conditions: { ifNoneMatch: '*' },
        });
      },
      (err) => {
        // The service answers 409 BlobAlreadyExists (single shot or staged blocks); 412 means the same here.
        const status = statusOf(err);
        if (status === 409 || status === 412) {
          throw new RfError(StorageErrors.ALREADY_EXISTS, `code of function '${functionId}' version ${version} already exists`);
        }
        throw err;
      },
      this.#transferDeadlineMs(zip.length),
    );
  }

  async get(functionId: string, version: number): Promise<Buffer> {
    const blob = this.#container.getBlobClient(artifactBlobName(functionId, version));
    const notFound = (err: unknown): never => {
      if (statusOf(err) === 404) {
        throw new RfError(StorageErrors.NOT_FOUND, `no code for function '${functionId}' version ${version}`);
      }
      throw err;
    };
    // The blob's size first (within the operation timeout: an outage fails fast), then the
    // download within a deadline that grows with it.
    const size = await bounded(
      this.#ctx,
      'artifacts.getProperties',
      async (abortSignal) => (await blob.getProperties({ abortSignal })).contentLength ?? 0,
      notFound,
    );
    return bounded(
      this.#ctx,
      'artifacts.get',
      (abortSignal) => blob.downloadToBuffer(0, undefined, { abortSignal }),
      notFound,
      this.#transferDeadlineMs(size),
    );
  }

  async delete(functionId: string, version: number): Promise<void> {
    const blob = this.#container.getBlobClient(artifactBlobName(functionId, version));
    await bounded(this.#ctx, 'artifacts.delete', (abortSignal) => blob.deleteIfExists({ abortSignal }));
  }

  async deleteAll(functionId: string): Promise<void> {
    const names = await bounded(this.#ctx, 'artifacts.list', async (abortSignal) => {
      const found: string[] = [];
      for await (const item of this.#container.listBlobsFlat({ prefix: `${functionId}/`, abortSignal })) {
        found.push(item.name);
      }
      return found;
    });
    // A few deletes at a time: a function has a handful of versions, but never a burst of hundreds.
    for (let i = 0; i < names.length; i += DELETE_BATCH) {
      await Promise.all(
        names.slice(i, i + DELETE_BATCH).map((name) =>
          bounded(this.#ctx, 'artifacts.delete', (abortSignal) =>
            this.#container.getBlobClient(name).deleteIfExists({ abortSignal }),
          ),
        ),
      );
    }
  }

  async listVersions(): Promise<StoredArtifact[]> {
    // A listing of the whole container: bounded by the catalogue, within the transfer deadline.
    return bounded(
      this.#ctx,
      'artifacts.listVersions',
      async (abortSignal) => {
        const found: StoredArtifact[] = [];
        for await (const item of this.#container.listBlobsFlat({ abortSignal })) {
          const match = /^(.+)\/(\d+)\.zip$/.exec(item.name);
          if (match === null) continue;
          found.push({ functionId: match[1]!, version: Number(match[2]), writtenAt: item.properties.lastModified.getTime() });
        }
        return found;
      },
      undefined,
      this.#transferTimeoutMs,
    );
  }
}
