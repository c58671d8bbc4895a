/**
 * S3 Event Notifications delivered through SQS: the message body is the notification JSON
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html),
 * or that JSON wrapped in an SNS envelope when the bucket notifies a topic the queue subscribes to.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { VidpipeError } from '../errors.js';
import { quietSdkVersionWarning } from '../storage/s3.js';
import { decodeFormEncodedKey } from '../storage/uri.js';

export interface ObjectCreatedEvent {
  bucket: string;
  key: string;
  /** Absent for some event sources; the watcher reads the real one with HeadObject anyway. */
  etag?: string;
  size?: number;
}

export interface ParsedNotification {
  objects: ObjectCreatedEvent[];
  /** The s3:TestEvent S3 sends when a notification is configured; nothing to do but delete it. */
  isTestEvent: boolean;
}

interface S3EventRecord {
  eventSource?: string;
  eventName?: string;
  s3?: { bucket?: { name?: string }; object?: { key?: string; eTag?: string; size?: number } };
}

export function parseS3Notification(body: string): ParsedNotification {
  let data = parseJson(body);
  if (data?.Type === 'Notification' && typeof data.Message === 'string') data = parseJson(data.Message);
  if (data?.Event === 's3:TestEvent') return { objects: [], isTestEvent: true };
  if (!Array.isArray(data?.Records)) throw new VidpipeError('USAGE', 'not an S3 event notification: no "Records" array');
  const objects: ObjectCreatedEvent[] = [];
  for (const record of data.Records as S3EventRecord[]) {
    if (record.eventSource !== 'aws:s3' || !record.eventName?.startsWith('ObjectCreated:')) continue;
    const bucket = record.s3?.bucket?.name;
    const rawKey = record.s3?.object?.key;
    if (bucket === undefined || rawKey === undefined) throw new VidpipeError('USAGE', 'S3 event record without bucket name or object key');
    objects.push({
      bucket,
      key: decodeEventKey(rawKey),
      etag: record.s3?.object?.eTag?.replace(/^"|"$/g, ''),
      size: record.s3?.object?.size,
    });
  }
  return { objects, isTestEvent: false };
}

/** Keys in S3 events are URL-encoded with '+' for spaces (form encoding). */
export function decodeEventKey(key: string): string {
  return decodeFormEncodedKey(key);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new VidpipeError('USAGE', `message body is not JSON: ${(error as Error).message}`);
  }
}

/** The three calls the watcher makes; an SQSClient, or a fake in tests. */
export interface SqsLike {
  send(command: ReceiveMessageCommand | DeleteMessageCommand | ChangeMessageVisibilityCommand, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

export interface SqsQueueOptions {
  queueUrl: string;
  /** Seconds a received message stays hidden; extended while its upload is processed. */
  visibilitySeconds: number;
  /** Long polling: a receive waits up to this long for a message (SQS allows 0–20). */
  waitSeconds?: number;
}

export class SqsQueue {
  constructor(
    private readonly client: SqsLike,
    private readonly options: SqsQueueOptions,
  ) {}

  async receive(signal: AbortSignal): Promise<Message[]> {
    const response = (await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: this.options.waitSeconds ?? 20,
        VisibilityTimeout: this.options.visibilitySeconds,
      }),
      { abortSignal: signal },
    )) as { Messages?: Message[] };
    return response.Messages ?? [];
  }

  async delete(message: Message): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: message.ReceiptHandle }));
  }

  /** Keeps a message hidden while it is worked on; 0 hands it back at once. */
  async setVisibility(message: Message, seconds = this.options.visibilitySeconds): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: seconds }),
    );
  }
}

/** Region from the queue URL (https://sqs.eu-west-1.amazonaws.com/123/name) unless given. */
export function createSqsClient(queueUrl: string, options: { region?: string; endpoint?: string } = {}): SQSClient {
  quietSdkVersionWarning();
  const region = options.region || /sqs[.-]([a-z0-9-]+)\.amazonaws\.com/.exec(queueUrl)?.[1] || process.env.AWS_REGION || 'us-east-1';
  return new SQSClient({ region, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
}
