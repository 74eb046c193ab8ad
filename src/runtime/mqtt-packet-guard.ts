/**
 * Packet size caps of the embedded broker. mqtt-packet (aedes' parser) has no maximum packet size:
 * it buffers whatever remaining length a packet announces, so one unauthenticated client that
 * announced a 256 MB CONNECT and streamed it grew the process by 256 MB. The meter reads only the
 * fixed headers of the byte stream (type + remaining length, MQTT 3.1.1 §2.2) before the parser
 * sees the bytes, and says stop as soon as a packet announces more than its limit:
 *  - before the login has succeeded: every packet ≤ PRE_AUTH_MAX_PACKET (a CONNECT is a few
 *    hundred bytes) and all bytes together ≤ PRE_AUTH_MAX_BYTES (CONNECT + what a client pipelines);
 *  - after it: every packet ≤ MAX_PACKET (plates over 64 KiB are refused as input anyway).
 */

export const PRE_AUTH_MAX_PACKET = 64 * 1024;
export const PRE_AUTH_MAX_BYTES = 128 * 1024;
export const MAX_PACKET = 1024 * 1024;

const TYPES = ['reserved', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'];

export interface PacketViolation {
  /** e.g. 'CONNECT packet of 268435455 bytes announced before login (limit 65536)' */
  reason: string;
}

export class MqttPacketMeter {
  /** 0: at a fixed header's first byte; 1: in its remaining-length bytes; 2: in a packet's body */
  private state = 0;
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private left = 0;
  private preAuthBytes = 0;

  /**
   * Feeds the next bytes of the stream; `authenticated` says whether the login has succeeded.
   * Returns a violation (the connection must be closed) or null.
   */
  feed(chunk: Buffer, authenticated: boolean): PacketViolation | null {
    if (!authenticated) {
      this.preAuthBytes += chunk.length;
      if (this.preAuthBytes > PRE_AUTH_MAX_BYTES) return { reason: `${this.preAuthBytes} bytes sent before login (limit ${PRE_AUTH_MAX_BYTES})` };
    }
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 2) {
        const n = Math.min(this.left, chunk.length - i);
        this.left -= n;
        i += n;
        if (this.left === 0) this.state = 0;
        continue;
      }
      const b = chunk[i++];
      if (this.state === 0) {
        this.type = b >> 4;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        this.state = 1;
        continue;
      }
      // remaining length: 7 bits per byte, least significant first, at most 4 bytes
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (b & 0x80) {
        if (this.lengthBytes >= 4) return { reason: `malformed remaining length of a ${TYPES[this.type]} packet` };
        continue;
      }
      const limit = authenticated ? MAX_PACKET : PRE_AUTH_MAX_PACKET;
      if (this.length > limit) {
        return { reason: `${TYPES[this.type]} packet of ${this.length} bytes announced${authenticated ? '' : ' before login'} (limit ${limit})` };
      }
      this.left = this.length;
      this.state = this.left > 0 ? 2 : 0;
    }
    return null;
  }
}
