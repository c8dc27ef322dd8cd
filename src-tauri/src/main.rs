// No console window behind the tray app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[cfg(target_os = "linux")]
    draw_without_gl();
    rulewatch_desktop::run();
}

/// GTK 3 opens GL when it opens the display, to choose a visual, which maps Mesa's
/// driver and LLVM (about 30 MB resident, measured by scripts/measure-desktop.sh) into a
/// tray app that never draws with GL; WebKit's compositing does the same for a panel of
/// forms and tables that it draws as well without. What the user set is left alone.
#[cfg(target_os = "linux")]
fn draw_without_gl() {
    for (name, value) in [
        ("GDK_GL", "disable"),
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ] {
        set_unless_given(name, value);
    }
    // Drawing without the GPU, the panel's web process needs no render node; yet WebKit
    // opens EGL in the app itself to find one for it when the panel first opens, which
    // maps Mesa and LLVM for the rest of the app's life (measured: 30 MB of PSS with the
    // panel closed again). WebKit reads this variable before it opens EGL
    // (WebKit/UIProcess/glib/DRMDevice.cpp, drmRenderNodeDevice), and a file that is no
    // DRM node leaves the web process without a device, as on a machine without a GPU
    // (WebCore/platform/graphics/drm/DRMDeviceManager.cpp, initializeMainDevice).
    let gpu_off = |name| std::env::var_os(name).is_some_and(|v| v == "1");
    if gpu_off("WEBKIT_DISABLE_COMPOSITING_MODE") && gpu_off("WEBKIT_DISABLE_DMABUF_RENDERER") {
        set_unless_given("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null");
    }
}

#[cfg(target_os = "linux")]
fn set_unless_given(name: &str, value: &str) {
    if std::env::var_os(name).is_none() {
        // SAFETY: main calls this first, before any thread exists that could read the
        // environment.
        unsafe { std::env::set_var(name, value) };
    }
}
