#!/usr/bin/python3
# A small WebKitGTK host for the WebKit tests (test/browsers.test.ts): one WebView whose website data
# lives in a folder (a persistent data manager: OPFS works, where MiniBrowser under WebDriver keeps no
# storage), with the web features Safari turns on and WebKitGTK leaves off. It loads a URL, runs one
# async function body in the page and prints its result as one JSON line, then quits. The file choosers
# the page opens (a click on a file input) are answered in turn with the groups of WEBKIT_HOST_FILES (a JSON
# list of lists of paths), as a user picking them would; WEBKIT_HOST_SHOT names a PNG to save of the page
# at the end. WEBKIT_HOST_QUOTA_BYTES: the page's storage quota (default: Safari's, see below).
#
#   xvfb-run -a python3 webkit-host.py URL DATA_DIR FEATURES SCRIPT_FILE TIMEOUT_S
#
# Needs Debian's python3-gi and gir1.2-webkit2-4.1 (scripts/install-engines.mjs). Run with
# JSC_useSharedArrayBuffer=1 for shared memory.
import json
import os
import sys

import gi

gi.require_version('Gtk', '3.0')
gi.require_version('WebKit2', '4.1')
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

url, data_dir, features, script_file, timeout = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
with open(script_file, encoding='utf-8') as f:
    body = f.read()

# Storage quota: what Safari gives a page (an origin up to 60% of the volume, all origins 80%), where
# WebKitGTK's default is 1 GB an origin (a 2B-4T output does not fit); WEBKIT_HOST_QUOTA_BYTES sets an
# origin's quota instead (the quota test).
os.makedirs(data_dir, exist_ok=True)
volume = os.statvfs(data_dir)
quota = os.environ.get('WEBKIT_HOST_QUOTA_BYTES')
origin_ratio = int(quota) / (volume.f_blocks * volume.f_frsize) if quota else 0.6
manager = WebKit2.WebsiteDataManager(base_data_directory=data_dir, base_cache_directory=f'{data_dir}/cache', origin_storage_ratio=origin_ratio, total_storage_ratio=0.8)
context = WebKit2.WebContext.new_with_website_data_manager(manager)
settings = WebKit2.Settings()
# the page's console on stdout, before the result line (for debugging a run by hand)
settings.set_enable_write_console_messages_to_stdout(os.environ.get('WEBKIT_HOST_CONSOLE') == '1')
wanted = {name.lstrip('+') for name in features.split(',') if name}
all_features = WebKit2.Settings.get_all_features()
for i in range(all_features.get_length()):
    feature = all_features.get(i)
    if feature.get_identifier() in wanted:
        settings.set_feature_enabled(feature, True)
view = WebKit2.WebView(web_context=context, settings=settings)
window = Gtk.Window()
window.set_default_size(1280, 900)
window.add(view)
window.show_all()
result = {'error': 'timed out'}


def finish(value):
    global result
    result = value
    shot = os.environ.get('WEBKIT_HOST_SHOT')
    if shot and 'value' in value:
        view.get_snapshot(WebKit2.SnapshotRegion.FULL_DOCUMENT, WebKit2.SnapshotOptions.NONE, None, saved, shot)
    else:
        Gtk.main_quit()


def saved(webview, task, path):
    try:
        webview.get_snapshot_finish(task).write_to_png(path)
    except GLib.Error as e:
        result['error'] = f'cannot save the screenshot: {e.message}'
    Gtk.main_quit()


choices = json.loads(os.environ.get('WEBKIT_HOST_FILES') or '[]')


def choose_files(webview, request):
    if not choices:
        return False
    request.select_files(choices.pop(0))
    return True


def ran(webview, task):
    try:
        value = webview.call_async_javascript_function_finish(task)
        finish({'value': json.loads(value.to_json(0))})
    except GLib.Error as e:
        finish({'error': e.message})


def loaded(webview, event):
    if event == WebKit2.LoadEvent.FINISHED:
        webview.call_async_javascript_function(body, -1, None, None, None, None, ran)


view.connect('load-changed', loaded)
view.connect('run-file-chooser', choose_files)
view.connect('load-failed', lambda v, e, u, err: finish({'error': f'cannot load {u}: {err.message}'}))
view.connect('web-process-terminated', lambda v, reason: finish({'error': f'the web process ended: {reason.value_nick}'}))
view.load_uri(url)
GLib.timeout_add_seconds(timeout, lambda: finish({'error': f'timed out after {timeout} s'}))
Gtk.main()
print(json.dumps(result))
