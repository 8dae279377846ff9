//! Reading one photo: size checks, decoding, capture time, and the model's input tensor.
//!
//! Everything here is pure CPU work without the model, so the runner does it on a rayon pool while
//! the detector runs the previous image.

use std::cell::Cell;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use image::{ColorType, DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{CameraError, Result};
use crate::model::ModelKind;
use crate::resample::{self, Planar};
use aisle_log::SharedClock;

/// Limits on what the camera accepts; larger files are dead letters, not out-of-memory crashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest file, bytes.
    pub max_bytes: u64,
    /// Largest width or height, pixels.
    pub max_side: u32,
}

impl Default for ImageLimits {
    /// 50 MB and 12,000 px a side: well above any cart camera, far below what would hurt.
    fn default() -> Self {
        ImageLimits {
            max_bytes: 50 * 1024 * 1024,
            max_side: 12_000,
        }
    }
}

/// A photo ready for the detector.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// File it came from.
    pub path: PathBuf,
    /// Original width and height, pixels.
    pub width: u32,
    /// Original height, pixels.
    pub height: u32,
    /// Event time, ms since the epoch: EXIF DateTimeOriginal, else the file's arrival (the time
    /// the camera saw it, passed to [`prepare_at`]). Never the file's mtime: copying photos
    /// keeps old mtimes, which would put fresh photos before the inventory they join with.
    pub captured_ms: i64,
    /// Whether `captured_ms` is the EXIF capture time (else it is the arrival time).
    pub from_exif: bool,
    /// The model input, NCHW f32 (batch 1).
    pub tensor: Tensor,
    /// Scale from original pixels to model pixels (letterbox models; 1.0 for stretch models).
    pub scale: f32,
}

fn bad(path: &Path, reason: impl Into<String>) -> CameraError {
    CameraError::BadImage {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// [`prepare_at`] with the arrival time read from `clock` now (for tools that see the file as
/// they read it, like `aisle camera detect`).
pub fn prepare_with(
    path: &Path,
    kind: ModelKind,
    limits: ImageLimits,
    clock: &SharedClock,
) -> Result<Prepared> {
    prepare_at(path, kind, limits, clock.wall_ms())
}

/// [`prepare_with`] on the system clock. Kept for callers that have no clock yet; the pipeline
/// passes the arrival time it stamped when it saw the file ([`prepare_at`]).
pub fn prepare(path: &Path, kind: ModelKind, limits: ImageLimits) -> Result<Prepared> {
    prepare_with(path, kind, limits, &aisle_log::clock::system())
}

/// Reads, checks and decodes `path`, and builds `kind`'s input tensor. The event time is the
/// EXIF DateTimeOriginal, else `arrived_ms` (when the camera saw the file).
///
/// Every problem with the file (missing, too large, empty, not an image, truncated, corrupt) is a
/// [`CameraError::BadImage`] naming the file and the reason.
pub fn prepare_at(
    path: &Path,
    kind: ModelKind,
    limits: ImageLimits,
    arrived_ms: i64,
) -> Result<Prepared> {
    let meta = std::fs::metadata(path).map_err(|e| bad(path, format!("cannot read: {e}")))?;
    if meta.len() == 0 {
        return Err(bad(path, "empty file (0 bytes)"));
    }
    if meta.len() > limits.max_bytes {
        return Err(bad(
            path,
            format!(
                "file is {} bytes, over the {}-byte limit",
                meta.len(),
                limits.max_bytes
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| bad(path, format!("cannot read: {e}")))?;
    let exif_ms = exif_capture_ms(&bytes);
    let from_exif = exif_ms.is_some();
    let captured_ms = exif_ms.unwrap_or(arrived_ms);

    let reader = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| bad(path, format!("cannot read: {e}")))?;
    let Some(format) = reader.format() else {
        return Err(bad(path, "not an image (unrecognised format)"));
    };
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| bad(path, format!("corrupt {format:?} header: {e}")))?;
    if w > limits.max_side || h > limits.max_side {
        return Err(bad(
            path,
            format!("image is {w}x{h} px, over the {} px limit", limits.max_side),
        ));
    }
    if format == image::ImageFormat::Jpeg && !jpeg_complete(&bytes) {
        // Decoders fill a cut-off scan with grey and "succeed"; a cut-off photo is not an input.
        return Err(bad(
            path,
            "truncated or corrupt Jpeg: no end-of-image marker after the last scan",
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(&bytes), format);
    let mut lim = Limits::default();
    lim.max_image_width = Some(limits.max_side);
    lim.max_image_height = Some(limits.max_side);
    reader.limits(lim);
    let corrupt = |e: image::ImageError| bad(path, format!("truncated or corrupt {format:?}: {e}"));
    let decoder = reader.into_decoder().map_err(corrupt)?;
    let (tensor, scale) = if decoder.color_type() == ColorType::Rgb8 {
        // Into a buffer kept on this thread: a fresh one per photo costs its page faults.
        let mut buf = DECODED.with(|c| c.take());
        buf.resize(decoder.total_bytes() as usize, 0);
        let done = decoder.read_image(&mut buf).map_err(corrupt);
        let out = done.map(|()| to_tensor(&buf, (w, h), kind));
        DECODED.with(|c| c.set(buf));
        out?
    } else {
        let rgb = DynamicImage::from_decoder(decoder)
            .map_err(corrupt)?
            .into_rgb8();
        to_tensor(rgb.as_raw(), (w, h), kind)
    };
    Ok(Prepared {
        path: path.to_path_buf(),
        width: w,
        height: h,
        captured_ms,
        from_exif,
        tensor,
        scale,
    })
}

/// The model input for the `w` x `h` RGB pixels `rgb`, and the original → model scale.
pub fn to_tensor(rgb: &[u8], (w, h): (u32, u32), kind: ModelKind) -> (Tensor, f32) {
    // (size, pixels resized to, padding, channel order, value scale, original → model scale)
    let (size, to, fill, order, mul, scale) = match kind {
        // Plain stretch to size x size, RGB, 0..1, no mean/std: every value is written.
        ModelKind::Deimv2 { size } => (size, (size, size), None, [0, 1, 2], 1.0 / 255.0, 1.0),
        ModelKind::Yolox { size } => {
            // Letterbox: keep the aspect ratio, paste top-left, pad with 114; BGR, 0..255.
            let r = (size as f32 / w as f32).min(size as f32 / h as f32);
            let nw = ((w as f32 * r) as u32).clamp(1, size);
            let nh = ((h as f32 * r) as u32).clamp(1, size);
            (size, (nw, nh), Some(114.0), [2, 1, 0], 1.0, r)
        }
    };
    let side = size as usize;
    let mut t = Tensor::with_len(3 * side * side, fill);
    let p = Planar { side, order, mul };
    resample::resize_planar(rgb, (w, h), to, &mut t.0, p);
    (t, scale)
}

thread_local! {
    /// Decoded RGB pixels, kept between photos (taken, not borrowed: rayon may run another
    /// photo on this thread meanwhile, and that one allocates its own).
    static DECODED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Buffers of dropped tensors, for the next photos: a fresh 2 MB buffer per photo costs
/// ~0.5 ms of page faults, a tenth of the whole pre-processing.
static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());
/// More than the runner ever has in flight.
const POOL_MAX: usize = 8;

/// A model input, NCHW f32 (batch 1). Its buffer returns to a small pool when it is dropped.
#[derive(Clone)]
pub struct Tensor(Vec<f32>);

impl Tensor {
    /// A tensor of `len` values, all `fill`, or as left by an earlier photo when `fill` is
    /// `None` (for callers that write every value).
    fn with_len(len: usize, fill: Option<f32>) -> Tensor {
        let mut buf = POOL
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        match fill {
            Some(v) => {
                buf.clear();
                buf.resize(len, v);
            }
            None => buf.resize(len, 0.0),
        }
        Tensor(buf)
    }
}

impl std::ops::Deref for Tensor {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({} values)", self.0.len())
    }
}

impl Drop for Tensor {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(buf);
        }
    }
}

/// Whether a JPEG has its end-of-image marker (FF D9) after its last start-of-scan (FF DA).
/// Entropy-coded data stuffs every FF with 00, so neither pair occurs by accident; an EXIF
/// thumbnail's own markers come before the main image's scans.
fn jpeg_complete(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let last_eoi = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    matches!((last_sos, last_eoi), (Some(s), Some(e)) if e > s)
}

/// EXIF DateTimeOriginal as ms since the epoch (its offset if given, else UTC).
pub fn exif_capture_ms(bytes: &[u8]) -> Option<i64> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let field = exif.get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)?;
    let exif::Value::Ascii(ref v) = field.value else {
        return None;
    };
    let dt = exif::DateTime::from_ascii(v.first()?).ok()?;
    let local = chrono::NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?
        .and_hms_opt(dt.hour.into(), dt.minute.into(), dt.second.into())?;
    let offset_ms = dt.offset.map_or(0, |m| i64::from(m) * 60_000);
    Some(local.and_utc().timestamp_millis() - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_pads_and_swaps_channels() {
        let img = [10u8, 20, 30].repeat(8 * 4);
        let (t, r) = to_tensor(&img, (8, 4), ModelKind::Yolox { size: 16 });
        assert_eq!(r, 2.0);
        let plane = 256;
        // top-left is the image (BGR), bottom half is padding
        assert_eq!((t[0], t[plane], t[2 * plane]), (30.0, 20.0, 10.0));
        assert_eq!(t[15 * 16], 114.0);
        let (t, r) = to_tensor(&img, (8, 4), ModelKind::Deimv2 { size: 4 });
        assert_eq!(r, 1.0);
        assert!((t[0] - 10.0 / 255.0).abs() < 1e-6);
    }

    /// A small JPEG, with an EXIF APP1 segment holding `DateTimeOriginal = exif` if given.
    fn jpeg(exif: Option<&str>) -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(16, 8, |x, y| image::Rgb([x as u8 * 16, y as u8 * 32, 99]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        let Some(dt) = exif else { return out };
        assert_eq!(dt.len(), 19, "EXIF dates are 'YYYY:MM:DD HH:MM:SS'");
        // Big-endian TIFF: IFD0 at 8 with one entry (Exif IFD pointer → 26), Exif IFD at 26 with
        // one entry (DateTimeOriginal, ASCII, 20 bytes at 44).
        let mut tiff = b"MM\0\x2a".to_vec();
        tiff.extend(8u32.to_be_bytes());
        for (tag, typ, count, value) in [(0x8769u16, 4u16, 1u32, 26u32), (0x9003, 2, 20, 44)] {
            tiff.extend(1u16.to_be_bytes());
            tiff.extend(tag.to_be_bytes());
            tiff.extend(typ.to_be_bytes());
            tiff.extend(count.to_be_bytes());
            tiff.extend(value.to_be_bytes());
            tiff.extend(0u32.to_be_bytes());
        }
        assert_eq!(tiff.len(), 44);
        tiff.extend(dt.as_bytes());
        tiff.push(0);
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
        app1.extend(b"Exif\0\0");
        app1.extend(tiff);
        // Right after SOI (FF D8).
        out.splice(2..2, app1);
        out
    }

    #[test]
    fn event_time_is_exif_else_arrival_never_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let kind = ModelKind::Deimv2 { size: 32 };
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000); // 2001
        let arrived = 1_800_000_000_123; // 2027
        let plain = dir.path().join("plain.jpg");
        let tagged = dir.path().join("tagged.jpg");
        std::fs::write(&plain, jpeg(None)).unwrap();
        std::fs::write(&tagged, jpeg(Some("2024:05:06 07:08:09"))).unwrap();
        for p in [&plain, &tagged] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let img = prepare_at(&plain, kind, ImageLimits::default(), arrived).unwrap();
        assert_eq!((img.captured_ms, img.from_exif), (arrived, false));
        let img = prepare_with(
            &plain,
            kind,
            ImageLimits::default(),
            &aisle_log::clock::fixed(7),
        )
        .unwrap();
        assert_eq!(img.captured_ms, 7);
        let img = prepare_at(&tagged, kind, ImageLimits::default(), arrived).unwrap();
        // 2024-05-06 07:08:09 UTC
        let want = 1_714_979_289_000;
        assert_eq!((img.captured_ms, img.from_exif), (want, true));
        assert_eq!((img.width, img.height), (16, 8));
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let kind = ModelKind::Deimv2 { size: 32 };
        let empty = dir.path().join("empty.jpg");
        std::fs::write(&empty, b"").unwrap();
        let text = dir.path().join("notes.jpg");
        std::fs::write(&text, b"hello, not an image").unwrap();
        for (p, want) in [(&empty, "empty"), (&text, "not an image")] {
            let e = prepare(p, kind, ImageLimits::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(want) && e.contains(p.file_name().unwrap().to_str().unwrap()),
                "{e}"
            );
        }
    }
}
