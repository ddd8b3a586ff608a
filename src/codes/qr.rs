//! QR rendering of a code's payload as SVG.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::error::{ApiError, ApiResult};

/// An SVG QR code with the standard 4-module quiet zone (scanners need it to find the
/// code on a busy phone screen). Level M survives a cracked screen or glare.
pub fn svg(payload: &str) -> ApiResult<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("QR encoding failed: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}
