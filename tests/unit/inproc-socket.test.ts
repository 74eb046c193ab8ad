/**
 * In-process connections (src/runtime/inproc-socket.ts): the socket pair behaves as a TCP
 * connection for mqtt.js and aedes (order, chunking across ticks, end / destroy reaching the other
 * side, back pressure), and routeInProcess only takes the exact broker address it was given. The
 * runtime's own clients over it (Node-RED, the bridge): tests/integration/footprint.test.ts.
 */
import * as net from 'net';
import { InProcSocket, routeInProcess } from '../../src/runtime/inproc-socket';

const tick = () => new Promise((r) => setImmediate(r));

describe('InProcSocket.pair', () => {
  test('bytes arrive in order, on a later tick, one chunk per tick of writes', async () => {
    const [a, b] = InProcSocket.pair();
    const got: Buffer[] = [];
    b.on('data', (d: Buffer) => got.push(d));
    a.write('one ');
    a.write(Buffer.from('two '));
    expect(got).toHaveLength(0); // never inside the writer's call
    await tick();
    a.write('three');
    await tick();
    expect(got.map(String)).toEqual(['one two ', 'three']);
    // and the other way
    const back: string[] = [];
    a.on('data', (d: Buffer) => back.push(String(d)));
    b.write('pong');
    await tick();
    expect(back).toEqual(['pong']);
    a.destroy();
  });

  test('end() on one side ends the other (allowHalfOpen false: both close)', async () => {
    const [a, b] = InProcSocket.pair();
    const events: string[] = [];
    b.on('data', () => undefined);
    a.on('data', () => undefined);
    b.on('end', () => events.push('b end'));
    b.on('close', () => events.push('b close'));
    a.on('close', () => events.push('a close'));
    a.end('bye');
    for (let i = 0; i < 5; i++) await tick();
    expect(events).toEqual(expect.arrayContaining(['b end', 'b close', 'a close']));
  });

  test('destroy() on one side closes the other', async () => {
    const [a, b] = InProcSocket.pair();
    const closed = new Promise((r) => b.once('close', r));
    b.on('data', () => undefined);
    a.destroy();
    await closed;
    expect(b.destroyed).toBe(true);
    expect(b.write('x', () => undefined)).toBe(false);
  });

  test('back pressure: a writer whose reader does not read is held, released when it reads', async () => {
    const [a, b] = InProcSocket.pair();
    const big = Buffer.alloc(128 * 1024, 1);
    let acked = 0;
    for (let i = 0; i < 8; i++) a.write(big, () => acked++);
    for (let i = 0; i < 5; i++) await tick();
    expect(acked).toBeLessThan(8); // b is paused (no 'data' listener): the writer waits
    let bytes = 0;
    b.on('data', (d: Buffer) => (bytes += d.length));
    for (let i = 0; i < 30 && acked < 8; i++) await tick();
    expect(acked).toBe(8);
    for (let i = 0; i < 5; i++) await tick();
    expect(bytes).toBe(8 * 128 * 1024);
    a.destroy();
  });
});

describe('routeInProcess', () => {
  test("only the given port on the broker's loopback names is taken; other ports stay TCP; the route can be removed", async () => {
    // a TCP echo server stands for "the broker's port"; the route answers in memory instead
    const tcpSeen: net.Socket[] = [];
    const server = net.createServer((s) => (tcpSeen.push(s), s.pipe(s)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const ends: InProcSocket[] = [];
    const remove = routeInProcess(port, '0.0.0.0', () => {
      const [client, inner] = InProcSocket.pair();
      inner.on('data', (d: Buffer) => inner.write(Buffer.concat([Buffer.from('mem:'), d])));
      ends.push(inner);
      return client;
    });
    const roundTrip = async (s: net.Socket) => {
      const got = new Promise<string>((r) => s.once('data', (d) => r(String(d))));
      await new Promise((r) => s.once('connect', r));
      s.write('hi');
      const v = await got;
      s.destroy();
      return v;
    };
    try {
      for (const host of ['127.0.0.1', 'localhost', '::1']) {
        const s = net.createConnection({ port, host });
        expect(s).toBeInstanceOf(InProcSocket);
        expect(await roundTrip(s)).toBe('mem:hi');
      }
      // the (port, host, listener) form too, listener called
      let listened = false;
      const s2 = net.connect(port, '127.0.0.1', () => (listened = true));
      expect(await roundTrip(s2)).toBe('mem:hi');
      expect(listened).toBe(true);
      expect(tcpSeen).toHaveLength(0);
      expect(ends).toHaveLength(4);

      // another address on that port is not ours: plain TCP (refused or answered, never in memory)
      const other = net.createConnection({ port: port + 1 === 65536 ? port - 1 : port + 1, host: '127.0.0.1' });
      expect(other).toBeInstanceOf(net.Socket);
      other.on('error', () => undefined);
      other.destroy();

      remove();
      const tcp = net.createConnection({ port, host: '127.0.0.1' });
      expect(tcp).toBeInstanceOf(net.Socket);
      expect(await roundTrip(tcp)).toBe('hi');
      expect(tcpSeen).toHaveLength(1);
    } finally {
      remove();
      for (const s of tcpSeen) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
