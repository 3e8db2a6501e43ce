$user = New-MailUser -Name SfBOnline-ApplicationAccount -ExternalEmailAddress SfBOnline-ApplicationAccount@contoso.example -DomainController dc01.contoso.example
Set-MailUser -Identity $user.Identity -HiddenFromAddressListsEnabled $True -DomainController dc01.contoso.example
New-ManagementRoleAssignment -Role UserApplication -User $user.Identity -DomainController dc01.contoso.example
New-ManagementRoleAssignment -Role ArchiveApplication -User $user.Identity -DomainController dc01.contoso.example
New-PartnerApplication -Name SfBOnline -ApplicationIdentifier 00000004-0000-0ff1-ce00-000000000000 -Enabled $True -LinkedAccount $user.Identity
