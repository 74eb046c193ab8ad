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

/** Gray luminance of a raw image (RGB → ITU-R 601 luma). */
export function luminanceOf(img: RawImage): Uint8ClampedArray {
  if (img.channels === 1) return new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.width * img.height);
  const out = new Uint8ClampedArray(img.width * img.height);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) out[i] = (img.data[j] * 299 + img.data[j + 1] * 587 + img.data[j + 2] * 114) / 1000;
  return out;
}

/** The QR text in the image, or null. */
export function decodeQr(img: RawImage): string | null {
  const { RGBLuminanceSource, QRCodeReader, BinaryBitmap, HybridBinarizer, NotFoundException, ChecksumException, FormatException } = zxing();
  const source = new RGBLuminanceSource(luminanceOf(img), img.width, img.height);
  const reader = new QRCodeReader();
  try {
    return reader.decode(new BinaryBitmap(new HybridBinarizer(source)), hints()).getText();
  } catch (err) {
    if (err instanceof NotFoundException || err instanceof ChecksumException || err instanceof FormatException) return null;
    throw err;
  }
}
