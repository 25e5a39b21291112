// electron-builder `msiProjectCreated` hook: adds Lifeline's public properties and the custom action that writes
// the machine policy through the agent (`--write-machine-policy`), plus start-at-login for every user.
//   msiexec /i Lifeline.msi SERVER_URL=https://lifeline.example.org ENROLLMENT_SECRET=… SERVER_KEY=<sha256> /qn
// The property names are kept in step with src-main/core/config/installer-properties.ts by a test.
const fs = require('node:fs');

const PROPERTIES = [
  ['SERVER_URL', '--server-url'],
  ['ENROLLMENT_SECRET', '--enrollment-secret'],
  ['SERVER_KEY', '--server-key'],
  ['SERVER_CA_FILE', '--server-ca-file'],
  ['KIOSK', '--kiosk'],
  ['ALWAYS_ON_TOP', '--always-on-top'],
  ['REACHABILITY_BUDGET_MS', '--reachability-budget-ms'],
];

function wixAdditions(exeName) {
  // Secure="yes" lets the property reach the elevated execute sequence; Hidden keeps the secret out of MSI logs.
  const props = PROPERTIES.map(([name]) => `    <Property Id="${name}" Secure="yes" Hidden="yes" />`).join('\n');
  const args = PROPERTIES.map(([name, flag]) => `&quot;${flag}=[${name}]&quot;`).join(' ');
  return `
${props}
    <CustomAction Id="LifelineWritePolicy" FileKey="mainExecutable" ExeCommand="--write-machine-policy ${args}"
                  Execute="deferred" Impersonate="no" Return="check" HideTarget="yes" />
    <InstallExecuteSequence>
      <Custom Action="LifelineWritePolicy" After="InstallFiles">NOT REMOVE AND (SERVER_URL OR ENROLLMENT_SECRET OR SERVER_KEY)</Custom>
    </InstallExecuteSequence>
    <Component Id="LifelineRunAtLogin" Directory="APPLICATIONFOLDER" Guid="4f8e6d2a-1c3b-4a5e-9f7d-8b2c0e1a3d5f">
      <RegistryValue Root="HKLM" Key="Software\\Microsoft\\Windows\\CurrentVersion\\Run" Name="Lifeline"
                     Type="string" Value="&quot;[APPLICATIONFOLDER]${exeName}&quot; --hidden" KeyPath="yes" />
    </Component>
    <Feature Id="LifelineRunAtLoginFeature" Level="1" Title="Start at login"><ComponentRef Id="LifelineRunAtLogin" /></Feature>
`;
}

module.exports = async function msiProjectCreated(projectFile) {
  const wxs = fs.readFileSync(projectFile, 'utf8');
  const exeName = 'Lifeline.exe';
  if (!wxs.includes('</Product>'))
    throw new Error('msi-project-created: unexpected WiX project layout (no </Product>)');
  fs.writeFileSync(projectFile, wxs.replace('</Product>', `${wixAdditions(exeName)}</Product>`));
};
module.exports.PROPERTIES = PROPERTIES;
