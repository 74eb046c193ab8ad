/**
 * QR decoding with @zxing/library (pure JS, nothing downloaded at run time): gray pixels in, the
 * text out (null when the frame holds no readable code).
 */
import { BarcodeFormat, BinaryBitmap, DecodeHintType, HybridBinarizer, NotFoundException, QRCodeReader, RGBLuminanceSource, ChecksumException, FormatException } from '@zxing/library';
import type { RawImage } from './image';

const hints = new Map<DecodeHintType, unknown>([
  [DecodeHintType.POSSIBLE_FORMATS, [BarcodeFormat.QR_CODE]],
  [DecodeHintType.TRY_HARDER, true],
]);

/** Gray luminance of a raw image (RGB → ITU-R 601 luma). */
export function luminanceOf(img: RawImage): Uint8ClampedArray {
  if (img.channels === 1) return new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.width * img.height);
  const out = new Uint8ClampedArray(img.width * img.height);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) out[i] = (img.data[j] * 299 + img.data[j + 1] * 587 + img.data[j + 2] * 114) / 1000;
  return out;
}

/** The QR text in the image, or null. */
export function decodeQr(img: RawImage): string | null {
  const source = new RGBLuminanceSource(luminanceOf(img), img.width, img.height);
  const reader = new QRCodeReader();
  try {
    return reader.decode(new BinaryBitmap(new HybridBinarizer(source)), hints).getText();
  } catch (err) {
    if (err instanceof NotFoundException || err instanceof ChecksumException || err instanceof FormatException) return null;
    throw err;
  }
}
