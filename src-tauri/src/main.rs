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
        if std::env::var_os(name).is_none() {
            // SAFETY: the first thing main does, before any thread exists that could
            // read the environment.
            unsafe { std::env::set_var(name, value) };
        }
    }
}
