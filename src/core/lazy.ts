/**
 * A value made on first use. Heavy optional modules (mssql, grammy, basic-ftp, qrcode, ZXing,
 * TensorFlow) are `require`d through it, so a runtime that does not use their feature never loads
 * them (checked by tests/integration/footprint.test.ts):
 *
 *   import type * as Grammy from 'grammy';
 *   const grammy = lazy((): typeof Grammy => require('grammy'));
 *   … new (grammy().Bot)(token)
 */
export function lazy<T>(load: () => T): () => T {
  let loaded = false;
  let value: T;
  return () => {
    if (!loaded) {
      value = load();
      loaded = true;
    }
    return value;
  };
}
