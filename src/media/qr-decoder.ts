/**
 * QR decoding with @zxing/library (pure JS, nothing downloaded at run time): gray pixels in, the
 * text out (null when the frame holds no readable code).
 */
import type * as Zxing from '@zxing/library';
import { lazy } from '../core/lazy';
import type { RawImage } from './image';

/** ZXing, loaded when the first code is decoded */
const zxing = lazy((): typeof Zxing => require('@zxing/library'));
const hints = lazy(() => {
  const { DecodeHintType, BarcodeFormat } = zxing();
  return new Map<Zxing.DecodeHintType, unknown>([
    [DecodeHintType.POSSIBLE_FORMATS, [BarcodeFormat.QR_CODE]],
    [DecodeHintType.TRY_HARDER, true],
  ]);
});
/** The second try: the image is one straight code on a plain margin (a screen or a printed card held up). */
const pureHints = lazy(() => new Map<Zxing.DecodeHintType, unknown>([...hints(), [zxing().DecodeHintType.PURE_BARCODE, true]]));

/** Gray luminance of a raw image (RGB → ITU-R 601 luma). */
export function luminanceOf(img: RawImage): Uint8ClampedArray {
  if (img.channels === 1) return new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.width * img.height);
  const out = new Uint8ClampedArray(img.width * img.height);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) out[i] = (img.data[j] * 299 + img.data[j + 1] * 587 + img.data[j + 2] * 114) / 1000;
  return out;
}

/**
 * The QR text in the image, or null. ZXing's finder-pattern detector misses about 4 % of perfectly
 * crisp generated codes (our own PNGs, a phone screen filmed head-on); those are read on a second
 * try as a pure code (tests/integration/qr-decode.test.ts).
 */
export function decodeQr(img: RawImage): string | null {
  const { RGBLuminanceSource, QRCodeReader, BinaryBitmap, HybridBinarizer, NotFoundException, ChecksumException, FormatException } = zxing();
  const bitmap = new BinaryBitmap(new HybridBinarizer(new RGBLuminanceSource(luminanceOf(img), img.width, img.height)));
  for (const h of [hints(), pureHints()]) {
    try {
      return new QRCodeReader().decode(bitmap, h).getText();
    } catch (err) {
      if (!(err instanceof NotFoundException || err instanceof ChecksumException || err instanceof FormatException)) throw err;
    }
  }
  return null;
}
