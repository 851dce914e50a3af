//! `payrecon gui --screenshot FILE`: wait until the view has its data, take
//! a picture of the real window, write it as PNG and close.

use super::App;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The outcome shared with [`super::run`].
pub(super) type Outcome = Arc<Mutex<Option<Result<(), String>>>>;

/// Frames to wait after the last job finished (layout settles, fonts load).
const SETTLE_FRAMES: u32 = 8;
/// Give up after this long (a database that never answers).
const TIMEOUT: Duration = Duration::from_secs(600);

pub(super) struct Shot {
    path: PathBuf,
    outcome: Outcome,
    idle_frames: u32,
    requested: bool,
    started: Instant,
}

impl Shot {
    pub(super) fn new(path: PathBuf, outcome: Outcome) -> Self {
        Self {
            path,
            outcome,
            idle_frames: 0,
            requested: false,
            started: Instant::now(),
        }
    }

    /// Called after every frame.
    pub(super) fn step(&mut self, ctx: &egui::Context, app: &App) {
        let finished = self.outcome.lock().map(|o| o.is_some()).unwrap_or(true);
        if finished {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        ctx.request_repaint();
        if self.requested {
            return;
        }
        if self.started.elapsed() > TIMEOUT {
            self.finish(Err(format!(
                "the view was not ready after {} s",
                TIMEOUT.as_secs()
            )));
            return;
        }
        let ready = !app.busy() && (app.connected() || app.banner_text().is_some());
        self.idle_frames = if ready { self.idle_frames + 1 } else { 0 };
        if self.idle_frames >= SETTLE_FRAMES {
            self.requested = true;
            let path = self.path.clone();
            let outcome = Arc::clone(&self.outcome);
            let waker = ctx.clone();
            ctx.request_screenshot(move |image| {
                let r = write_png(&path, &image);
                if let Ok(mut o) = outcome.lock() {
                    *o = Some(r);
                }
                waker.request_repaint();
            });
        }
    }

    fn finish(&self, r: Result<(), String>) {
        if let Ok(mut o) = self.outcome.lock() {
            *o = Some(r);
        }
    }
}

/// Writes an RGBA image as PNG (to a temporary name first).
pub(crate) fn write_png(path: &std::path::Path, image: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = image.size;
    let mut bytes = Vec::with_capacity(w * h * 4);
    for p in &image.pixels {
        bytes.extend_from_slice(&p.to_srgba_unmultiplied());
    }
    let tmp = path.with_extension("png.partial");
    let write = || -> Result<(), Box<dyn std::error::Error>> {
        let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut enc = png::Encoder::new(file, u32::try_from(w)?, u32::try_from(h)?);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&bytes)?;
        writer.finish()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}
