/**
 * The built-in face recogniser for small sites (issue 16), off by default: @vladmandic/face-api
 * on @tensorflow/tfjs with the WASM backend (its .wasm files and the model weights are loaded from
 * node_modules, never from a network). Tiny face detector + 68 landmarks + 128-d descriptors.
 *
 *  - `describe(image)`: every face of a JPEG/PNG (box, score, descriptor), largest first;
 *  - `enrol(personId)`: descriptors of a person's photos into sqlite (peopleOf(hub).addFace);
 *  - `recognise(image)`: the faces of a frame matched against the enrolled descriptors;
 *  - `start()`: reads the hub's 'camera-frame' (one frame at a time; busy → skipped) and emits
 *    'face-read' for every face it finds (known or not), for face-check to decide.
 * Loading the models costs ~0.2 s and ~300–430 MB RSS (README); a frame ~70–400 ms on 2 cores.
 */
import * as path from 'path';
import type { Hub, Service } from '../services/hub';
import type { CameraFrame } from '../core/contracts';
import { peopleOf } from '../services/people-service';
import type { FaceReport } from '../core/people';
import { decodeImage } from './image';
import { degradedOf } from '../services/degraded';

/** A face as the recogniser sees it. */
export interface FaceFound {
  box: { x: number; y: number; width: number; height: number };
  /** detector score 0..1 */
  score: number;
  descriptor: Float32Array;
}

export interface FaceFrameRead {
  camera: string;
  ts: number;
  report: FaceReport;
  jpeg: Buffer;
}

export interface FaceRecogniserOptions {
  /** descriptor distance that still counts as the same person (face-api: 0.6 loose, 0.5 strict) */
  threshold: number;
  /** tiny face detector input size (multiple of 32; 416 default, 320 faster, 608 finer) */
  inputSize: number;
  /** detector score below which a face is ignored */
  minScore: number;
}

export const DEFAULT_FACE_OPTIONS: FaceRecogniserOptions = { threshold: 0.5, inputSize: 416, minScore: 0.5 };

type FaceApi = typeof import('@vladmandic/face-api');

let loading: Promise<FaceApi> | null = null;

/** Loads tfjs (WASM backend from node_modules) and the three models once per process. */
export function loadFaceApi(): Promise<FaceApi> {
  if (!loading) {
    loading = (async () => {
      // the node-wasm build requires @tensorflow/tfjs + @tensorflow/tfjs-backend-wasm (no native binding)

      const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;

      const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
      wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
      const tf = faceapi.tf as unknown as { setBackend(b: string): Promise<boolean>; ready(): Promise<void> };
      await tf.setBackend('wasm');
      await tf.ready();
      const dir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
      await faceapi.nets.tinyFaceDetector.loadFromDisk(dir);
      await faceapi.nets.faceLandmark68Net.loadFromDisk(dir);
      await faceapi.nets.faceRecognitionNet.loadFromDisk(dir);
      return faceapi;
    })();
    loading.catch(() => (loading = null));
  }
  return loading;
}

export class FaceRecogniser implements Service {
  opts: FaceRecogniserOptions = { ...DEFAULT_FACE_OPTIONS };
  private off: (() => void) | null = null;
  private busy = false;
  private users = 0;
  readonly stats = { frames: 0, skipped: 0, faces: 0, failed: 0, lastError: null as string | null, lastMs: 0 };

  constructor(private readonly hub: Hub) {}

  /** Every face of an image (JPEG / PNG bytes), largest first. */
  async describe(image: Buffer): Promise<FaceFound[]> {
    const faceapi = await loadFaceApi();
    const img = await decodeImage(image, { maxSide: 640 });
    const t = faceapi.tf.tensor3d(new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length), [img.height, img.width, 3], 'int32');
    try {
      const found = await faceapi
        .detectAllFaces(t as any, new faceapi.TinyFaceDetectorOptions({ inputSize: this.opts.inputSize, scoreThreshold: this.opts.minScore }))
        .withFaceLandmarks()
        .withFaceDescriptors();
      return found
        .map((f) => ({ box: { x: f.detection.box.x, y: f.detection.box.y, width: f.detection.box.width, height: f.detection.box.height }, score: f.detection.score, descriptor: f.descriptor }))
        .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
    } finally {
      t.dispose();
    }
  }

  /** Enrols a person from their stored photos: the largest face of each; returns how many were stored. */
  async enrol(personId: unknown): Promise<{ enrolled: number; skipped: Array<{ photoId: number; reason: string }> }> {
    const people = peopleOf(this.hub);
    await people.ready();
    const photos = await people.photos(personId);
    const skipped: Array<{ photoId: number; reason: string }> = [];
    let enrolled = 0;
    for (const ph of photos) {
      try {
        const { bytes } = await people.photo(personId, ph.id);
        const [face] = await this.describe(bytes);
        if (!face) {
          skipped.push({ photoId: ph.id, reason: 'no face found' });
          continue;
        }
        await people.addFace(personId, face.descriptor, ph.id, face.score);
        enrolled++;
      } catch (err) {
        skipped.push({ photoId: ph.id, reason: (err as Error).message });
      }
    }
    return { enrolled, skipped };
  }

  /** The faces of an image with the enrolled person each one matches (or none). */
  async recognise(image: Buffer): Promise<Array<FaceFound & { personId: number | null; distance: number | null }>> {
    const faces = await this.describe(image);
    const people = peopleOf(this.hub);
    return faces.map((f) => {
      const m = people.matchDescriptor(f.descriptor, this.opts.threshold);
      return { ...f, personId: m?.personId ?? null, distance: m?.distance ?? null };
    });
  }

  /** Reads camera frames (counted: every start needs its stop). */
  start(): () => void {
    if (this.users++ === 0) {
      this.off = this.hub.on('camera-frame', (f) => void this.frame(f));
      loadFaceApi().then(
        () => {
          degradedOf(this.hub).clear('face-recogniser');
          this.hub.logger.info(`face recogniser ready (WASM), ${peopleOf(this.hub).faceCount} descriptors enrolled`);
        },
        (err: Error) => {
          this.stats.lastError = err.message;
          degradedOf(this.hub).set('face-recogniser', `face models did not load: ${err.message}`);
          this.hub.logger.error(`face recogniser: models did not load: ${err.message}`);
        },
      );
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--this.users === 0) {
        this.off?.();
        this.off = null;
      }
    };
  }

  /** One camera frame: emits 'face-read' for each face found. */
  async frame(f: CameraFrame): Promise<number> {
    this.stats.frames++;
    if (this.busy) {
      this.stats.skipped++;
      return 0;
    }
    this.busy = true;
    const t0 = Date.now();
    try {
      const faces = await this.recognise(f.jpeg);
      const people = peopleOf(this.hub);
      for (const face of faces) {
        this.stats.faces++;
        const p = face.personId !== null ? people.get(face.personId) : null;
        const report: FaceReport = p
          ? { personId: String(p.id), name: p.name, confidence: face.score, ts: f.ts, distance: face.distance ?? undefined }
          : { name: 'unknown', confidence: face.score, ts: f.ts };
        this.hub.emit('face-read', { camera: f.camera, ts: f.ts, report, jpeg: f.jpeg });
      }
      return faces.length;
    } catch (err) {
      this.stats.failed++;
      this.stats.lastError = (err as Error).message;
      this.hub.logger.warn(`face recogniser: frame of ${f.camera}: ${(err as Error).message}`);
      return 0;
    } finally {
      this.stats.lastMs = Date.now() - t0;
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    this.off?.();
    this.off = null;
  }
}

export const faceRecogniserOf = (hub: Hub): FaceRecogniser => hub.service('face-recogniser', (h) => new FaceRecogniser(h));
