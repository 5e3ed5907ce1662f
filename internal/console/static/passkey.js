// The browser's part of the passkey ceremonies the account pages begin.
//
// A form with data-passkey="create" (adding a passkey) or "get" (signing
// in with one) carries the server's publicKey options, as JSON, in
// data-options. Sending the form asks the browser for the passkey; its
// answer, as JSON, goes into the form's hidden "credential" field and the
// form is sent on. The server checks everything: this script only moves
// bytes between the page and navigator.credentials.
(function () {
  "use strict";

  // fromB64u decodes base64url (no padding) into bytes.
  function fromB64u(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  // toB64u encodes bytes as base64url without padding.
  function toB64u(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // descriptors decodes the IDs of a list of credential descriptors.
  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: fromB64u(c.id) };
      if (c.transports) {
        d.transports = c.transports;
      }
      return d;
    });
  }

  function creationOptions(o) {
    o.challenge = fromB64u(o.challenge);
    o.user.id = fromB64u(o.user.id);
    o.excludeCredentials = descriptors(o.excludeCredentials);
    return o;
  }

  function requestOptions(o) {
    o.challenge = fromB64u(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    return o;
  }

  // answer is the JSON form of a PublicKeyCredential, as the server reads
  // it (WebAuthn Level 3's toJSON shape).
  function answer(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64u(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toB64u(r.userHandle);
      }
    }
    return out;
  }

  function say(form, text) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) {
      status.textContent = text;
    }
  }

  function ceremony(form) {
    var kind = form.getAttribute("data-passkey");
    var field = form.querySelector("input[name=credential]");
    form.addEventListener("submit", function (ev) {
      if (field.value) {
        return; // the answer is in: let the form go
      }
      ev.preventDefault();
      if (!window.PublicKeyCredential || !navigator.credentials) {
        say(form, "This browser cannot use passkeys.");
        return;
      }
      var options = JSON.parse(form.getAttribute("data-options"));
      var asked = kind === "create"
        ? navigator.credentials.create({ publicKey: creationOptions(options) })
        : navigator.credentials.get({ publicKey: requestOptions(options) });
      say(form, "Follow your browser's steps to use your passkey.");
      asked.then(function (cred) {
        field.value = JSON.stringify(answer(cred));
        form.submit();
      }, function (err) {
        say(form, (err && err.name === "NotAllowedError")
          ? "The passkey was not used. Try again when you are ready."
          : "Your passkey could not be used here.");
      });
    });
  }

  var forms = document.querySelectorAll("form[data-passkey]");
  for (var i = 0; i < forms.length; i++) {
    ceremony(forms[i]);
  }
})();
