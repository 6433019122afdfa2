/// The dashboard's pages as Mustache templates (swift-mustache), kept in the binary so an installed warden-cloud
/// needs no resource folder. `{{x}}` escapes HTML; nothing here uses the unescaped form.
enum DashboardTemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "signedIn": signedIn, "doors": doors, "audit": audit, "people": people,
        "devices": devices,
        "invited": invited, "webhooks": webhooks, "enrolled": enrolled,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Warden</title>
        <link rel="stylesheet" href="/dashboard.css">
        <script src="/dashboard.js" defer></script>
        </head>
        <body>
        <a class="skip" href="#main">Skip to content</a>
        {{#nav}}
        <header>
          <nav aria-label="Main">
            <strong class="brand">Warden</strong>
            <a href="/" {{#doorsPage}}aria-current="page"{{/doorsPage}}>Doors</a>
            <a href="/audit" {{#auditPage}}aria-current="page"{{/auditPage}}>Activity</a>
            <a href="/people" {{#peoplePage}}aria-current="page"{{/peoplePage}}>People &amp; keys</a>
            <a href="/devices" {{#devicesPage}}aria-current="page"{{/devicesPage}}>Devices</a>
            {{#admin}}<a href="/webhooks" {{#webhooksPage}}aria-current="page"{{/webhooksPage}}>Webhooks</a>{{/admin}}
          </nav>
          <form method="post" action="/logout" class="who">
            <span>{{userName}} · {{orgName}} · {{role}}</span>
            <input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit">Log out</button>
          </form>
        </header>
        {{/nav}}
        <main id="main">
        <h1>{{title}}</h1>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{$content}}{{/content}}
        </main>
        </body>
        </html>
        """

    static let login = """
        {{<layout}}{{$content}}
        <form method="post" action="/login" class="card narrow">
          <label for="email">Email</label>
          <input id="email" name="email" type="email" autocomplete="username" required value="{{email}}">
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required>
          <button type="submit">Log in</button>
        </form>
        <form method="get" action="/login/sso" class="card narrow" id="sso">
          <h2>Single sign-on</h2>
          <label for="org">Organization ID</label>
          <input id="org" name="org" autocomplete="organization" required value="{{org}}">
          <button type="submit">Sign in with single sign-on</button>
        </form>
        {{/content}}{{/layout}}
        """

    static let signedIn = """
        {{<layout}}{{$content}}
        <meta http-equiv="refresh" content="0;url=/">
        <p class="card narrow" role="status">Signed in. <a href="/">Continue to the dashboard</a>.</p>
        {{/content}}{{/layout}}
        """

    static let doors = """
        {{<layout}}{{$content}}
        <section aria-labelledby="alarms-h" class="alarms">
          <h2 id="alarms-h">Alarms</h2>
          <ul id="alarms" aria-live="assertive">
          {{#alarms}}<li class="alarm"><strong>{{kind}}</strong> {{reason}} · {{door}} · <time>{{at}}</time></li>{{/alarms}}
          </ul>
          {{^alarms}}<p class="quiet" id="no-alarms">No alarms.</p>{{/alarms}}
        </section>
        <section aria-labelledby="doors-h">
          <h2 id="doors-h">Doors</h2>
          <ul class="doors">
          {{#doors}}
            <li class="card door" data-door="{{id}}">
              <h3>{{name}}</h3>
              <p><span class="state state-{{state}}" data-field="state">{{state}}</span>
                 <span class="quiet" data-field="online">{{boardsOnline}} of {{boards}} boards online</span></p>
              <p class="quiet">{{site}} · {{id}}</p>
              {{#canWrite}}
              <form method="post" action="/doors/{{id}}/unlock">
                <input type="hidden" name="csrf" value="{{csrf}}">
                <button type="submit" aria-label="Unlock {{name}} for 5 seconds">Unlock 5 s</button>
              </form>
              {{/canWrite}}
            </li>
          {{/doors}}
          </ul>
          {{^doors}}<p>No doors yet.</p>{{/doors}}
        </section>
        {{#hasPlans}}
        <section aria-labelledby="plans-h" id="lockdown-plans">
          <h2 id="plans-h">Lockdown plans</h2>
          <ul class="plans">
          {{#plans}}
            <li class="card plan" data-plan="{{id}}">
              <h3>{{name}}</h3>
              <p class="quiet">{{siteName}} · {{doorList}}</p>
              {{#canWrite}}
              <form method="post" action="/sites/{{site}}/lockdown-plans/{{id}}/trigger" class="inline">
                <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="on" value="1">
                <button type="submit" class="danger" aria-label="Start lockdown: {{name}}">Lock down</button>
              </form>
              <form method="post" action="/sites/{{site}}/lockdown-plans/{{id}}/trigger" class="inline">
                <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="on" value="0">
                <button type="submit" aria-label="End lockdown: {{name}}">Lift</button>
              </form>
              {{/canWrite}}
            </li>
          {{/plans}}
          </ul>
        </section>
        {{/hasPlans}}
        <section aria-labelledby="activity-h">
          <h2 id="activity-h">Live activity</h2>
          <ol id="activity" aria-live="polite" class="activity">
          {{#recent}}<li class="{{result}}"><time>{{at}}</time> {{result}} · <span title="{{userID}}">{{user}}</span> · {{door}} {{reason}}</li>{{/recent}}
          </ol>
        </section>
        {{/content}}{{/layout}}
        """

    static let audit = """
        {{<layout}}{{$content}}
        <form method="get" action="/audit" class="filters" aria-label="Filter the activity">
          <div><label for="door">Door</label>
          <select id="door" name="door"><option value="">All doors</option>
          {{#doorOptions}}<option value="{{id}}" {{#selected}}selected{{/selected}}>{{name}}</option>{{/doorOptions}}
          </select></div>
          <div><label for="user">Person</label><input id="user" name="user" value="{{user}}" list="people"
            autocomplete="off" placeholder="name or email">
          <datalist id="people">{{#people}}<option value="{{id}}">{{name}} ({{email}})</option>{{/people}}</datalist></div>
          <div><label for="result">Result</label>
          <select id="result" name="result">
          {{#resultOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/resultOptions}}
          </select></div>
          <div><label for="since">Since (UTC)</label><input id="since" name="since" type="date" value="{{since}}"></div>
          <div><button type="submit">Show</button></div>
        </form>
        <p><a id="export" href="{{exportURL}}" download>Export CSV</a> (this filter, up to a million events)</p>
        <div class="scroll"><table>
          <caption class="sr-only">Activity, newest first</caption>
          <thead><tr><th scope="col">Time (UTC)</th><th scope="col">Result</th><th scope="col">Person</th>
          <th scope="col">Door</th><th scope="col">What</th><th scope="col">Reason</th></tr></thead>
          <tbody>
          {{#events}}<tr><td><time>{{at}}</time></td><td class="{{result}}">{{result}}</td><td title="{{userID}}">{{user}}</td><td>{{door}}</td><td>{{kind}}</td><td>{{reason}}</td></tr>{{/events}}
          </tbody>
        </table></div>
        {{^events}}<p>No events match.</p>{{/events}}
        {{#olderURL}}<p><a href="{{olderURL}}">Older events</a></p>{{/olderURL}}
        {{/content}}{{/layout}}
        """

    static let people = """
        {{<layout}}{{$content}}
        {{#canWrite}}
        <section aria-labelledby="grant-h" class="card">
          <h2 id="grant-h">Grant a key</h2>
          <form method="post" action="/people/keys" id="grant">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label for="grant-user">Person</label>
            <select id="grant-user" name="user" required>
            {{#holders}}<option value="{{id}}">{{name}} ({{email}})</option>{{/holders}}
            </select>
            <fieldset><legend>Doors</legend>
            {{#doors}}<label class="inline"><input type="checkbox" name="doors" value="{{id}}"> {{name}}</label>{{/doors}}
            </fieldset>
            <label for="valid-until">Valid until (UTC date, empty for a year)</label>
            <input id="valid-until" name="valid_until" type="date">
            <button type="submit">Grant</button>
          </form>
        </section>
        <section aria-labelledby="add-h" class="card">
          <h2 id="add-h">Add a person</h2>
          <form method="post" action="/people/users" id="add-person">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label for="new-name">Name</label><input id="new-name" name="name" required maxlength="200">
            <label for="new-email">Email</label><input id="new-email" name="email" type="email" required>
            <button type="submit">Add</button>
          </form>
        </section>
        {{/canWrite}}
        <section aria-labelledby="keys-h">
          <h2 id="keys-h">Keys</h2>
          <div class="scroll"><table id="keys">
            <thead><tr><th scope="col">Person</th><th scope="col">Doors</th><th scope="col">Valid until</th>
            <th scope="col">Phones</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
            {{#keys}}<tr data-key="{{id}}"><td>{{user}}</td><td>{{doorList}}</td><td>{{validUntil}}</td><td>{{phones}}</td>
              <td class="{{status}}">{{status}}</td>
              <td>{{#revocable}}<form method="post" action="/people/keys/{{id}}/revoke"><input type="hidden" name="csrf" value="{{csrf}}">
              <button type="submit" aria-label="Revoke {{user}}'s key to {{doorList}}">Revoke</button></form>{{/revocable}}</td></tr>{{/keys}}
            </tbody>
          </table></div>
        </section>
        <section aria-labelledby="people-h">
          <h2 id="people-h">People</h2>
          <div class="scroll"><table>
            <thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
            {{#users}}<tr><td>{{name}}</td><td>{{email}}</td><td>{{role}}</td><td>{{#canInvite}}<form method="post" action="/people/users/{{id}}/invite">
              <input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" aria-label="Invite {{name}}'s phone">Invite phone</button></form>{{/canInvite}}</td></tr>{{/users}}
            </tbody>
          </table></div>
        </section>
        {{/content}}{{/layout}}
        """

    static let invited = """
        {{<layout}}{{$content}}
        <div class="card">
        <p>Send {{name}} this invitation. Their phone enrolls with it once, before <time>{{expires}}</time>;
        it is shown only now.</p>
        <p><code id="invitation">{{token}}</code></p>
        <p>On a development phone: <code>wardenctl phone enroll --cloud {{cloud}} --invitation {{token}} --key KEY --out DIR</code></p>
        <p><a href="/people">Back to people and keys</a></p>
        </div>
        {{/content}}{{/layout}}
        """

    static let webhooks = """
        {{<layout}}{{$content}}
        <section aria-labelledby="add-hook-h" class="card">
          <h2 id="add-hook-h">Add a webhook</h2>
          <form method="post" action="/webhooks" id="add-webhook">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label for="hook-url">URL (https)</label><input id="hook-url" name="url" type="url" required maxlength="2000">
            <fieldset><legend>Events</legend>
              <label class="inline"><input type="checkbox" name="events" value="alarm" checked> Alarms</label>
              <label class="inline"><input type="checkbox" name="events" value="board_offline" checked> Boards offline</label>
              <label class="inline"><input type="checkbox" name="events" value="decision"> Every decision</label>
            </fieldset>
            <label for="hook-format">Format</label>
            <select id="hook-format" name="format"><option value="warden">Warden (signed JSON)</option><option value="slack">Slack</option></select>
            <button type="submit">Add</button>
          </form>
        </section>
        {{#secret}}<p class="notice" role="status">Signing secret, shown once: <code id="webhook-secret">{{secret}}</code></p>{{/secret}}
        {{#hooks}}
        <section class="card" data-webhook="{{id}}">
          <h2>{{url}}</h2>
          <p class="quiet">{{events}} · {{format}}</p>
          <form method="post" action="/webhooks/{{id}}/test"><input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" aria-label="Send a test delivery to {{url}}">Send test</button></form>
          <div class="scroll"><table>
            <caption class="sr-only">Latest deliveries</caption>
            <thead><tr><th scope="col">When (UTC)</th><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th></tr></thead>
            <tbody>{{#deliveries}}<tr><td>{{at}}</td><td>{{event}}</td><td>{{status}}</td><td>{{attempts}}</td><td>{{answer}}</td></tr>{{/deliveries}}</tbody>
          </table></div>
        </section>
        {{/hooks}}
        {{^hooks}}<p>No webhooks yet.</p>{{/hooks}}
        {{/content}}{{/layout}}
        """

    static let devices = """
        {{<layout}}{{$content}}
        <div class="scroll"><table>
          <thead><tr><th scope="col">Board</th><th scope="col">Door</th><th scope="col">State</th><th scope="col">Last seen (UTC)</th>
          <th scope="col">Key list</th><th scope="col">Software</th><th scope="col">Audit chain</th>
          {{#admin}}<th scope="col">Support bundle</th>{{/admin}}</tr></thead>
          <tbody>
          {{#devices}}<tr><td>{{id}}</td><td>{{door}}</td><td class="state-{{state}}">{{state}}</td><td>{{lastSeen}}</td>
            <td>{{#behind}}<strong>behind</strong>: {{/behind}}{{applied}} of v{{doorVersion}}</td><td>{{software}}</td>
            <td>{{chain}}</td>
            {{#admin}}<td class="bundle">{{#bundle}}{{#uploaded}}<a href="/v1/support-bundles/{{bundleID}}" download
              aria-label="Download the support bundle of {{id}} ({{size}})">{{size}}, {{when}}</a>{{/uploaded}}
              {{^uploaded}}<span class="quiet">{{bundleState}} {{when}}</span>{{/uploaded}}{{/bundle}}
              {{^decommissioned}}<form method="post" action="/devices/{{id}}/support-bundle" class="inline">
                <input type="hidden" name="csrf" value="{{csrf}}">
                <button type="submit" aria-label="Request a support bundle from {{id}}">Request</button>
              </form>{{/decommissioned}}</td>{{/admin}}</tr>{{/devices}}
          </tbody>
        </table></div>
        {{^devices}}<p>No boards yet.</p>{{/devices}}
        <section aria-labelledby="updates-h">
          <h2 id="updates-h">Software updates</h2>
          {{#rollouts}}
          <article class="card rollout" id="rollout-{{id}}">
            <p><strong>{{version}}</strong> ({{channel}}) · <span class="state-{{state}}">{{state}}</span> · wave {{wave}} of {{waveCount}}
              · {{healthy}} of {{total}} boards on it{{#failed}} · <strong>{{failed}} failed</strong>{{/failed}}</p>
            {{#reason}}<p class="quiet">{{reason}}</p>{{/reason}}
            {{#running}}{{#admin}}
            <form method="post" action="/devices/rollouts/{{id}}/abort" class="inline">
              <input type="hidden" name="csrf" value="{{csrf}}">
              <button type="submit" aria-label="Abort the rollout of {{version}}">Abort</button>
            </form>
            {{/admin}}{{/running}}
          </article>
          {{/rollouts}}
          {{^rollouts}}<p class="quiet">No rollouts yet.</p>{{/rollouts}}
          {{#admin}}
          <form method="post" action="/devices/rollouts" id="start-rollout" class="card narrow">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label for="rollout-version">Version of warden-board</label>
            <input id="rollout-version" name="version" required maxlength="64" placeholder="2.1.0">
            <label for="rollout-waves">Waves (cumulative)</label>
            <input id="rollout-waves" name="waves" value="1, 10%, 100%">
            <label for="rollout-failures">Failed boards allowed per wave</label>
            <input id="rollout-failures" name="max_failures" type="number" min="0" max="100000" value="0">
            <button type="submit">Roll out</button>
          </form>
          {{/admin}}
        </section>
        {{#canWrite}}
        <section aria-labelledby="add-board-h" class="card narrow">
          <h2 id="add-board-h">Add a board</h2>
          <p class="quiet">An enrollment token lets an installer provision one board on a door, once.</p>
          <form method="post" action="/devices/enrollment" id="add-board">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label for="board-door">Door</label>
            <select id="board-door" name="door">{{#doors}}<option value="{{id}}">{{name}}</option>{{/doors}}</select>
            <label for="board-hours">Valid for (hours)</label>
            <input id="board-hours" name="hours" type="number" min="1" max="168" value="24" required>
            <button type="submit">Make an enrollment token</button>
          </form>
        </section>
        {{/canWrite}}
        {{/content}}{{/layout}}
        """

    static let enrolled = """
        {{<layout}}{{$content}}
        <div class="card">
        <p>Give the installer this token for <strong>{{door}}</strong>. It provisions one board, once, before
        <time>{{expires}}</time>; it is shown only now.</p>
        <p><code id="enrollment-token">{{token}}</code></p>
        <p>On the board: <code>wardenctl provision --cloud {{cloud}} --token {{token}} --board PROFILE --door {{doorID}}</code></p>
        <p><a href="/devices">Back to devices</a></p>
        </div>
        {{/content}}{{/layout}}
        """

    static let css = """
        :root { --fg: #1a1a1a; --bg: #ffffff; --muted: #4a4a4a; --accent: #0b57d0; --ok: #0d6b2f; --bad: #a50e0e;
          --warn: #7a4d00; --line: #c8c8c8; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
        header { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: 8px;
          padding: 8px 16px; border-bottom: 1px solid var(--line); }
        nav a { margin-right: 12px; color: var(--accent); } nav a[aria-current] { font-weight: 700; color: var(--fg); }
        .brand { margin-right: 16px; }
        main { padding: 16px; max-width: 1100px; margin: 0 auto; }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        .card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 0 0 16px; }
        .narrow { max-width: 380px; }
        label { display: block; margin-top: 8px; font-weight: 600; } label.inline { display: inline-block; font-weight: 400; margin-right: 12px; }
        input, select, button { font: inherit; padding: 6px 8px; min-height: 40px; }
        input:not([type=checkbox]), select { width: 100%; max-width: 380px; border: 1px solid var(--muted); border-radius: 4px; }
        button { margin-top: 8px; background: var(--accent); color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
        .who button { margin: 0 0 0 8px; background: var(--muted); }
        form.inline { display: inline-block; margin-right: 8px; } button.danger { background: var(--bad); }
        ul.plans { list-style: none; padding: 0; }
        ul.doors { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px; }
        .state { font-weight: 700; padding: 2px 8px; border-radius: 4px; border: 2px solid currentColor; }
        .state-locked { color: var(--ok); } .state-unlocked, .state-open { color: var(--warn); }
        .state-lockdown, .state-offline, .denied, .alarm { color: var(--bad); } .granted { color: var(--ok); }
        .quiet { color: var(--muted); } .error { color: var(--bad); font-weight: 700; } .notice { color: var(--ok); }
        .filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; }
        /* position: the screen-reader-only labels inside a table stay inside its scroller */
        .scroll { overflow-x: auto; position: relative; } table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        ol.activity { padding-left: 20px; }
        .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        @media (max-width: 600px) { main { padding: 8px; } nav a { display: inline-block; margin: 4px 8px 4px 0; } }
        """

    /// Live updates: the door cards and the activity list follow `/v1/events`. Text only (`textContent`), never
    /// markup from the server.
    static let js = """
        "use strict";
        document.addEventListener("DOMContentLoaded", () => {
          const activity = document.getElementById("activity");
          if (!activity || !window.EventSource) return;
          const events = new EventSource("/v1/events");
          events.addEventListener("door", (e) => {
            const d = JSON.parse(e.data);
            for (const card of document.querySelectorAll("[data-door]")) {
              if (card.dataset.door !== d.id) continue;
              const state = card.querySelector("[data-field=state]");
              state.textContent = d.state;
              state.className = "state state-" + d.state;
              card.querySelector("[data-field=online]").textContent =
                d.boards_online + " of " + d.boards + " boards online";
            }
          });
          const add = (list, cls, text) => {
            const li = document.createElement("li");
            li.className = cls;
            li.textContent = text;
            list.prepend(li);
            while (list.children.length > 50) list.lastChild.remove();
          };
          events.addEventListener("decision", (e) => {
            const d = JSON.parse(e.data);
            add(activity, d.result || "", d.at + " " + (d.result || d.kind) + " · " +
              (d.user_name || d.user || "unknown credential") + " · " + (d.door_name || d.door || "") +
              (d.reason ? " " + d.reason.replace(/_/g, " ") : ""));
          });
          events.addEventListener("alarm", (e) => {
            const d = JSON.parse(e.data);
            const none = document.getElementById("no-alarms");
            if (none) none.remove();
            add(document.getElementById("alarms"), "alarm",
              d.at + " " + (d.reason || d.kind).replace(/_/g, " ") + " · " + (d.door_name || d.door || ""));
          });
        });
        """
}
