/** The synthetic RTSP camera of the tests (src/emulators/rtsp-camera.ts: GStreamer's RTSP server, motion on demand). */
export { startRtspCamera, rtspCameraUnavailable } from '../../src/emulators/rtsp-camera';
export type { RtspCamera, RtspCameraOptions } from '../../src/emulators/rtsp-camera';
